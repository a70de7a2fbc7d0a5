# Portico as a container: the `bun build --compile` executable on an empty base.
#
# No base image is pulled (FROM scratch): the build context holds the assembled root file system.
#   npm ci && bun build.ts --only linux-x64     # dist/portico-linux-x64
#   scripts/container-rootfs.sh                 # dist/rootfs/: binary, its libc, passwd, config
#   podman build -t portico:dev -f Dockerfile .  # or docker build
#
# Run (the bundled routes.yaml sends traffic to 127.0.0.1:9080/9081, so the demo upstreams run on
# the host and the container shares its network):
#   podman run --rm --network host -v "$PWD/certs:/etc/portico/certs:ro" portico:dev
# Another config: -v "$PWD/my-routes.yaml:/etc/portico/routes.yaml:ro" (credential paths in it are
# relative to its folder, /etc/portico). Mounted keys must be readable by uid 65534.
FROM scratch
COPY dist/rootfs/ /
# The config and its keys belong to the user Portico runs as, so keys can be 0600.
COPY --chown=65534:65534 dist/portico-etc/ /etc/portico/
USER 65534:65534
WORKDIR /etc/portico
EXPOSE 8080 8443 9443
ENTRYPOINT ["/portico"]
CMD ["run", "-c", "/etc/portico/routes.yaml"]
