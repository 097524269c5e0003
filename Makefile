# `sam build` runs build-Function (template.yaml: BuildMethod makefile) with ARTIFACTS_DIR set.
# SAM's rust-cargolambda method cannot choose the target or the flags; this build makes the
# function's bootstrap static and for any arm64 CPU (scripts/build-binaries).
build-Function:
	scripts/build-binaries lambda
	cp target/aarch64-unknown-linux-musl/release/codedeploy-relink "$(ARTIFACTS_DIR)/bootstrap"
