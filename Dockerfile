# The dispatch relay (`fleetform relay serve`): the static binary and
# nothing else. Build the binary first (README, "The dispatch relay"):
#   RUSTFLAGS="-C target-feature=+crt-static" \
#     cargo build --release --target x86_64-unknown-linux-gnu
#   cp target/x86_64-unknown-linux-gnu/release/fleetform .
#   docker build -t fleetform-relay .
# The manager checkout (fleetform.yml, for `relay:` and the file names) is
# mounted or copied at /manager. Settings come from the environment:
# FLEETFORM_MANAGER_APP_ID, FLEETFORM_MANAGER_APP_PRIVATE_KEY (the manager
# App, which dispatches), FLEETFORM_CUSTOMER_APP_ID,
# FLEETFORM_CUSTOMER_APP_PRIVATE_KEY (the customer App, which reads the
# customer repos), FLEETFORM_WEBHOOK_SECRET (README, "The Apps").
FROM scratch
COPY fleetform /fleetform
WORKDIR /manager
USER 65532:65532
ENV FLEETFORM_RELAY_LISTEN=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["/fleetform", "-C", "/manager", "relay", "serve"]
