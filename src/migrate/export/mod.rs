//! `meshroute export gateway-api`: reads GatewayRoutes (cluster or files), maps them with
//! `gatewayapi::export`, prints the objects on stdout and the findings report on stderr.

mod read;
mod report;

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{Error, yaml};
use crate::api::GatewayRoute;
use crate::gatewayapi::{self, Options};

/// `meshroute export gateway-api`: every flag.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub source: Source,
    /// Also print a Gateway of this GatewayClass for every virtual gateway the routes use.
    #[arg(long)]
    pub gateway_class: Option<String>,
    #[command(flatten)]
    pub mapped: Mapped,
    /// Format of the findings report on stderr.
    #[arg(long, value_enum, default_value = "text")]
    pub report: ReportFormat,
    /// Print nothing and fail when any finding drops a route or changes its behaviour, unless
    /// its kind was accepted with --accept.
    #[arg(long)]
    pub strict: bool,
}

/// Where the GatewayRoutes come from: the cluster (a namespace or all) or files. `export` and
/// `verify` read the same way.
#[derive(Debug, Args)]
pub struct Source {
    /// Read the GatewayRoutes of this namespace (default: the kubeconfig context's).
    #[arg(long, short = 'n', conflicts_with = "all_namespaces")]
    pub namespace: Option<String>,
    /// Read the GatewayRoutes of every namespace.
    #[arg(long, short = 'A')]
    pub all_namespaces: bool,
    /// Read GatewayRoutes from these files or directories (YAML or JSON, several documents or a
    /// List; `-` is stdin; a directory recursively) instead of the cluster, and the routes of
    /// every format `import -f` reads (the official controller's objects, CloudFormation,
    /// Terraform, CLI JSON), imported on the way. Objects without a namespace take -n's, or
    /// `default`.
    #[arg(long = "filename", short = 'f')]
    pub files: Vec<PathBuf>,
    /// With -f: a CloudFormation parameter's or Terraform variable's value (repeatable).
    #[arg(long, value_parser = crate::migrate::import::name_value)]
    pub set: Vec<(String, String)>,
}

impl Source {
    /// The GatewayRoutes, by namespace and name; an input that cannot be read is an error.
    pub async fn read(&self) -> Result<Vec<GatewayRoute>, Error> {
        let (routes, unreadable) = self.read_what_can_be_read().await?;
        Error::unless_unreadable(unreadable)?;
        Ok(routes)
    }

    /// The GatewayRoutes that could be read, by namespace and name, and how many inputs (files,
    /// objects) could not be, each reported on stderr with its file and line.
    pub async fn read_what_can_be_read(&self) -> Result<(Vec<GatewayRoute>, usize), Error> {
        let (mut routes, unreadable) = if self.files.is_empty() {
            (read::cluster(self).await?, 0)
        } else {
            read::files(
                &self.files,
                self.namespace.as_deref().unwrap_or("default"),
                &self.set,
            )
        };
        routes.sort_by(|a, b| {
            (&a.metadata.namespace, &a.metadata.name)
                .cmp(&(&b.metadata.namespace, &b.metadata.name))
        });
        Ok((routes, unreadable))
    }
}

/// How the routes are mapped: `export` and `verify` take the same flags.
#[derive(Debug, Args)]
pub struct Mapped {
    /// Port of each Gateway's HTTP listener, where import recorded none of the virtual
    /// gateway's listeners.
    #[arg(long, default_value_t = 80)]
    pub gateway_port: i32,
    /// The Gateway API implementation the objects are for: generic (any conformant one), or
    /// lattice (the AWS Gateway API Controller for VPC Lattice, whose limits are reported per
    /// route: see docs/migration.md).
    #[arg(long, value_enum, default_value = "generic")]
    pub target: TargetArg,
    #[command(flatten)]
    pub mapping: gatewayapi::args::MappingArgs,
}

impl Mapped {
    /// The mapping's options; a service map that cannot be read is an input error.
    pub fn options(&self) -> Result<Options, Error> {
        let opts = (self.mapping.options(self.target.into())).map_err(|e| Error::Input {
            path: e.path,
            message: e.message,
        })?;
        Ok(Options {
            gateway_port: self.gateway_port,
            ..opts
        })
    }
}

/// `--target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetArg {
    Generic,
    Lattice,
}

impl From<TargetArg> for gatewayapi::Target {
    fn from(target: TargetArg) -> Self {
        match target {
            TargetArg::Generic => gatewayapi::Target::Generic,
            TargetArg::Lattice => gatewayapi::Target::Lattice,
        }
    }
}

/// How the findings report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

/// Runs `meshroute export gateway-api`: objects on stdout, the findings report on stderr.
pub async fn run(args: ExportArgs) -> Result<(), Error> {
    let routes = args.source.read().await?;
    let opts = Options {
        gateway_class: args.gateway_class.clone(),
        ..args.mapped.options()?
    };
    let export = gatewayapi::export(&routes, &opts);
    report::print(&export, routes.len(), args.report);
    if args.strict && export.losses() > 0 {
        return Err(Error::Strict(export.losses()));
    }
    let io = |e: std::io::Error| Error::Input {
        path: "stdout".into(),
        message: e.to_string(),
    };
    let mut out = std::io::stdout().lock();
    for object in &export.objects {
        let value = serde_json::to_value(object).map_err(|e| io(std::io::Error::other(e)))?;
        write!(out, "---\n{}", yaml::document(&value)).map_err(io)?;
    }
    out.flush().map_err(io)
}
