//! The `meshroute` binary: flags in, library out.

use clap::{Parser, Subcommand};

/// meshroute: AWS App Mesh gateway routes from Kubernetes GatewayRoute resources.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the GatewayRoute CustomResourceDefinition (YAML) to stdout.
    Crd,
}

fn main() {
    match Cli::parse().command {
        Command::Crd => print!("{}", meshroute::crd_yaml()),
    }
}
