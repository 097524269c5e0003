//! Names the build for `relink --version` and the function's start-up log (`RELINK_BUILD`):
//! `commit <hash>` when `RELINK_COMMIT` is set (scripts/build-binaries sets it), else
//! `built from source`. Only that variable reruns this script, so commits never rebuild the crate.

fn main() {
    println!("cargo:rerun-if-env-changed=RELINK_COMMIT");
    let build = match std::env::var("RELINK_COMMIT") {
        Ok(commit) if !commit.trim().is_empty() => format!("commit {}", commit.trim()),
        _ => "built from source".to_owned(),
    };
    println!("cargo:rustc-env=RELINK_BUILD={build}");
}
