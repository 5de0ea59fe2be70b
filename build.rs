//! Records the versions of the engines vitals is built with (from Cargo.lock), so a saved
//! churn model can say which library versions produced it.

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    for krate in ["linfa", "linfa-logistic", "ndarray", "datafusion", "polars", "ballista-core"] {
        let needle = format!("name = \"{krate}\"\nversion = \"");
        let version = lock
            .find(&needle)
            .map(|at| &lock[at + needle.len()..])
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("unknown");
        let var = krate.to_uppercase().replace('-', "_");
        println!("cargo:rustc-env=VITALS_VERSION_{var}={version}");
    }
}
