//! Which input of a hash join the engine builds its table from, when DataFusion's
//! statistics cannot say which is smaller: the one with fewer columns. A physical
//! optimizer rule, and the engine's list of rules with it in place.
//!
//! DataFusion builds from a join's left input unless statistics show the right one is
//! smaller, and an aggregate's output has no statistics. The models join facts onto the
//! row they are assembling, `row LEFT JOIN fact ON (as_of, customer_id)`, several times
//! over; each of those joins built its table from the row assembled so far, copying it
//! whole and then again for the rows without a match (at a million customers the joins
//! were half of customer_period's and churn_features' time). Building from the narrower
//! input streams the wide row through instead. A join's result is the same rows either
//! way, and every published model orders its rows itself.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::JoinType;
use datafusion::error::Result;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
use datafusion::physical_plan::ExecutionPlan;

/// The rule; it runs right after DataFusion's own join selection, before anything has
/// been attached to a join's sides.
#[derive(Debug, Default)]
pub struct NarrowBuildSide;

impl PhysicalOptimizerRule for NarrowBuildSide {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        let statistics = StatisticsContext::new();
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<HashJoinExec>() else {
                return Ok(Transformed::no(node));
            };
            if builds_from_the_wider_input(join, &statistics)? {
                Ok(Transformed::yes(join.swap_inputs(PartitionMode::Partitioned)?))
            } else {
                Ok(Transformed::no(node))
            }
        })
        .data()
    }

    fn name(&self) -> &str {
        "narrow_build_side"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Whether `join` is a partitioned equi-join that builds from its wider input and that no
/// statistics chose. Only joins whose swap keeps every row: inner, left (a right join
/// after the swap) and full.
fn builds_from_the_wider_input(join: &HashJoinExec, statistics: &StatisticsContext) -> Result<bool> {
    let swappable = matches!(join.join_type(), JoinType::Inner | JoinType::Left | JoinType::Full);
    if !swappable || *join.partition_mode() != PartitionMode::Partitioned || join.null_aware {
        return Ok(false);
    }
    let (left, right) = (join.left(), join.right());
    let args = StatisticsArgs::new();
    let (l, r) = (statistics.compute(left.as_ref(), &args)?, statistics.compute(right.as_ref(), &args)?);
    let by_bytes = l.total_byte_size.get_value().is_some() && r.total_byte_size.get_value().is_some();
    let by_rows = l.num_rows.get_value().is_some() && r.num_rows.get_value().is_some();
    if by_bytes || by_rows {
        return Ok(false);
    }
    Ok(right.schema().fields().len() < left.schema().fields().len())
}

/// DataFusion's physical optimizer rules, with [`NarrowBuildSide`] right after its join
/// selection (which it completes, and before rules that attach filters to a join's sides).
pub fn physical_rules() -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    let mut rules = PhysicalOptimizer::new().rules;
    let after = rules.iter().position(|rule| rule.name() == "join_selection").map_or(0, |at| at + 1);
    rules.insert(after, Arc::new(NarrowBuildSide));
    rules
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::execution::session_state::SessionStateBuilder;
    use datafusion::physical_plan::displayable;
    use datafusion::prelude::{SessionConfig, SessionContext};

    /// A wide aggregate with a narrow one joined onto it, as the models write it (the
    /// narrow one filtered through a joined parameter, so without statistics): the plan
    /// and the rows, in a session with or without the rule. No input counts as small
    /// enough to be copied whole to every partition, as none is at scale.
    async fn plan_and_rows(with_rule: bool) -> (String, String) {
        let config = SessionConfig::new()
            .with_target_partitions(2)
            .set_usize("datafusion.optimizer.hash_join_single_partition_threshold", 0)
            .set_usize("datafusion.optimizer.hash_join_single_partition_threshold_rows", 0);
        let mut state = SessionStateBuilder::new().with_config(config).with_default_features();
        if with_rule {
            state = state.with_physical_optimizer_rules(super::physical_rules());
        }
        let ctx = SessionContext::new_with_state(state.build());
        ctx.sql(
            "CREATE TABLE facts AS SELECT * FROM (VALUES ('a', 1, 2, 3, 4), ('b', 5, 6, 7, 8), ('a', 9, 10, 11, 12), \
             ('c', 0, 0, 0, 0)) AS t(customer_id, w, x, y, z)",
        )
        .await
        .unwrap();
        let frame = ctx
            .sql(
                "WITH wide AS (SELECT customer_id, SUM(w) AS w, SUM(x) AS x, SUM(y) AS y, SUM(z) AS z \
                               FROM facts GROUP BY customer_id), \
                      narrow AS (SELECT f.customer_id, COUNT(*) AS n FROM facts AS f \
                                 CROSS JOIN (SELECT 1 AS least) AS p WHERE f.w > p.least GROUP BY f.customer_id) \
                 SELECT wide.*, narrow.n FROM wide LEFT JOIN narrow ON narrow.customer_id = wide.customer_id \
                 ORDER BY wide.customer_id",
            )
            .await
            .unwrap();
        let plan = frame.clone().create_physical_plan().await.unwrap();
        let rows = pretty_format_batches(&frame.collect().await.unwrap()).unwrap().to_string();
        let plan = displayable(plan.as_ref()).indent(false).to_string();
        (plan, rows)
    }

    #[tokio::test]
    async fn a_join_without_statistics_builds_from_its_narrower_input_and_keeps_its_rows() {
        let (plain_plan, plain_rows) = plan_and_rows(false).await;
        let (plan, rows) = plan_and_rows(true).await;
        assert!(plain_plan.contains("join_type=Left"), "{plain_plan}");
        assert!(plan.contains("join_type=Right") && !plan.contains("join_type=Left"), "{plan}");
        assert_eq!(rows, plain_rows);
        // Customer c has no narrow row: kept, with a NULL count.
        assert!(rows.lines().any(|row| row.starts_with("| c ") && row.ends_with("|   |")), "{rows}");
    }
}
