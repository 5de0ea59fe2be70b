//! What a rule change does: two customer_health tables (before and after) compared by
//! customer — the tier migration matrix, the customers whose tier changed, and how the
//! health scores moved.

use std::path::Path;

use anyhow::{Context, Result};
use datafusion::prelude::ParquetReadOptions;

use super::rows::query;
use super::Engine;
use crate::canonical::TIERS;

/// Tier of a customer present on one side only.
pub const ABSENT: &str = "(absent)";

/// The comparison of two customer_health tables.
#[derive(Debug)]
pub struct Diff {
    /// (from tier, to tier, customers), every pair that occurs.
    pub matrix: Vec<(String, String, i64)>,
    /// Customers whose tier changed, biggest score move first.
    pub moved: Vec<Moved>,
    /// after − before health_score, for every customer scored on both sides, ascending.
    pub deltas: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Moved {
    pub customer_id: String,
    /// The customer's name (empty when the CRM has none).
    pub name: String,
    pub from_tier: String,
    pub to_tier: String,
    pub before: Option<f64>,
    pub after: Option<f64>,
}

const MATRIX: &str = "
SELECT COALESCE(b.health_tier, '(absent)') AS from_tier,
       COALESCE(a.health_tier, '(absent)') AS to_tier,
       COUNT(*) AS customers
FROM before AS b FULL JOIN after AS a ON a.customer_id = b.customer_id
GROUP BY 1, 2
ORDER BY 1, 2";

const MOVED: &str = "
SELECT COALESCE(a.customer_id, b.customer_id) AS customer_id,
       COALESCE(a.name, b.name) AS name,
       COALESCE(b.health_tier, '(absent)') AS from_tier,
       COALESCE(a.health_tier, '(absent)') AS to_tier,
       b.health_score AS before,
       a.health_score AS after
FROM before AS b FULL JOIN after AS a ON a.customer_id = b.customer_id
WHERE b.health_tier IS DISTINCT FROM a.health_tier
ORDER BY ABS(COALESCE(a.health_score, 0) - COALESCE(b.health_score, 0)) DESC, 1";

const DELTAS: &str = "
SELECT a.health_score - b.health_score AS delta
FROM before AS b JOIN after AS a ON a.customer_id = b.customer_id
WHERE a.health_score IS NOT NULL AND b.health_score IS NOT NULL
ORDER BY 1";

/// Compares two customer_health tables, each a Parquet file or partition folder.
pub async fn compare(engine: &Engine, before: &Path, after: &Path) -> Result<Diff> {
    let ctx = engine.session()?;
    for (name, path) in [("before", before), ("after", after)] {
        let location = if path.is_dir() { format!("{}/", path.display()) } else { path.display().to_string() };
        ctx.register_parquet(name, &location, ParquetReadOptions::default())
            .await
            .with_context(|| format!("reading customer_health from {}", path.display()))?;
    }
    let sides = "does each side have customer_id, name, health_score and health_tier?";
    let matrix = query(&ctx, MATRIX).await.context(sides)?;
    let (from, to, n) = (matrix.text("from_tier")?, matrix.text("to_tier")?, matrix.counts("customers")?);
    let moved = query(&ctx, MOVED).await.context(sides)?;
    let (ids, names) = (moved.text("customer_id")?, moved.text("name")?);
    let (before, after) = (moved.numbers("before")?, moved.numbers("after")?);
    let (moved_from, moved_to) = (moved.text("from_tier")?, moved.text("to_tier")?);
    Ok(Diff {
        matrix: from.into_iter().zip(to).zip(n).map(|((f, t), n)| (f, t, n)).collect(),
        moved: (0..ids.len())
            .map(|i| Moved {
                customer_id: ids[i].clone(),
                name: names[i].clone(),
                from_tier: moved_from[i].clone(),
                to_tier: moved_to[i].clone(),
                before: before[i],
                after: after[i],
            })
            .collect(),
        deltas: query(&ctx, DELTAS).await.context(sides)?.numbers("delta")?.into_iter().flatten().collect(),
    })
}

impl Diff {
    /// Customers scored on both sides whose score moved at all.
    pub fn changed_scores(&self) -> usize {
        self.deltas.iter().filter(|d| d.abs() > 1e-9).count()
    }

    /// The q-quantile of the score deltas (nearest rank), if any customer is on both sides.
    pub fn delta_quantile(&self, q: f64) -> Option<f64> {
        let n = self.deltas.len();
        (n > 0).then(|| self.deltas[((q * (n - 1) as f64).round() as usize).min(n - 1)])
    }

    /// Every tier on either side, healthiest first, then others alphabetically.
    pub fn tiers(&self) -> Vec<String> {
        let rank = |t: &str| match TIERS.iter().position(|o| *o == t) {
            Some(i) => i,
            None if t == ABSENT => TIERS.len() + 1,
            None => TIERS.len(),
        };
        let mut tiers: Vec<String> = self.matrix.iter().flat_map(|(f, t, _)| [f.clone(), t.clone()]).collect();
        tiers.sort_by_key(|t| (rank(t), t.clone()));
        tiers.dedup();
        tiers
    }

    /// Customers moving from `from` to `to`.
    pub fn count(&self, from: &str, to: &str) -> i64 {
        self.matrix.iter().find(|(f, t, _)| f == from && t == to).map_or(0, |(_, _, n)| *n)
    }
}
