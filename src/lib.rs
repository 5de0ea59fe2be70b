//! vitals: nightly B2B customer-health scoring.
//!
//! Four lanes side by side, each owning one engine, meeting only through the tables the
//! runner hands from one to the next:
//! [`ingest`] (polars: exports in, bronze rows and rejects out), [`transform`] (DataFusion:
//! the SQL models), [`model`] (linfa: the churn model) and [`publish`] (arrow/parquet:
//! every table written, staged and committed). Below them the shared vocabulary:
//! [`config`], [`canonical`] (sources, fields and domain names), [`contract`] (the
//! published columns), [`layout`] (every path
//! under the output directory), [`manifest`] and [`table`]. Above them [`runner`], the one
//! nightly sequence behind `run`, `predict` and `score`; [`check`] and [`report`], which
//! read without running; and [`cli`], the command line. [`sample_data`] writes synthetic
//! exports.

pub mod canonical;
pub mod check;
pub mod cli;
pub mod config;
pub mod contract;
pub mod ingest;
pub mod layout;
pub mod manifest;
pub mod model;
pub mod publish;
pub mod report;
pub mod runner;
pub mod sample_data;
pub mod table;
pub mod transform;
