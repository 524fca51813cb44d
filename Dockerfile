# meshroute's container image: the release binary on a distroless, non-root base.
#   docker build -t meshroute:0.1.0 .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin meshroute

# glibc and libgcc only (the AWS crypto library links against glibc); no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/meshroute /usr/local/bin/meshroute
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/meshroute"]
CMD ["run"]
