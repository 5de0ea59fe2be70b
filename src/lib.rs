//! vitals: nightly B2B customer-health scoring.
//!
//! The lanes, each owning one engine, meet only through Parquet files:
//! [`ingest`] (polars) → [`transform`] (DataFusion SQL models) → [`model`] (linfa churn
//! model) → [`publish`] (Parquet partitions and the run manifest). [`run`] sequences them
//! for the nightly job, [`score`] re-runs the SQL and model lanes from bronze for analysts,
//! [`check`] finds what a run would trip over without running it; [`cli`] is the command
//! line; [`report`] reads a published run back into an HTML page.

pub mod canonical;
pub mod check;
pub mod cli;
pub mod config;
pub mod ingest;
pub mod model;
pub mod publish;
pub mod report;
pub mod run;
pub mod sample_data;
pub mod score;
pub mod transform;
