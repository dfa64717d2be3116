//! The cleanup task's two scans: pending uploads past their window, and records never
//! attached. Each reads the first rows of a partial index in the order asked for
//! (`media_pending_by_expiry`, `media_never_attached_by_creation`), however large the backlog.

use chat_core::domain::Timestamp;
use diesel::dsl::{AsSelect, SqlTypeOf, sql};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Bool;

use super::row::MediaRow;
use crate::schema::media;

/// The indexes' predicates, written as literals: the statements are prepared once per
/// connection, and a generic plan cannot prove a partial index's predicate from a parameter.
const PENDING: &str = "media.status = 'pending'";
const NEVER_ATTACHED: &str = "media.attached_at IS NULL AND media.status <> 'pending'";

pub(super) type MediaQuery = media::BoxedQuery<'static, Pg, SqlTypeOf<AsSelect<MediaRow, Pg>>>;

fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Pending records whose upload window closed at or before `now`, oldest first.
pub(super) fn expired_uploads(now: Timestamp, limit: usize) -> MediaQuery {
    media::table
        .filter(sql::<Bool>(PENDING))
        .filter(media::upload_expires_at.le(now))
        .order((media::upload_expires_at, media::id))
        .limit(limit_of(limit))
        .select(MediaRow::as_select())
        .into_boxed()
}

/// Records never attached, not pending, created at or before `cutoff`, oldest first.
pub(super) fn unattached_before(cutoff: Timestamp, limit: usize) -> MediaQuery {
    media::table
        .filter(sql::<Bool>(NEVER_ATTACHED))
        .filter(media::created_at.le(cutoff))
        .order((media::created_at, media::id))
        .limit(limit_of(limit))
        .select(MediaRow::as_select())
        .into_boxed()
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    #![allow(clippy::unwrap_used)]

    use diesel::QueryableByName;
    use diesel::sql_types::Text;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};

    use super::*;
    use crate::testing::TestDatabase;

    #[derive(QueryableByName)]
    struct PlanLine {
        #[diesel(sql_type = Text)]
        line: String,
    }

    /// Each scan, as the adapter sends it and under the generic plan a prepared statement
    /// ends up with, reads its partial index in order: no sort, so a page costs its rows only.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_scan_reads_its_partial_index_in_order_under_a_generic_plan() {
        let database = TestDatabase::create().await;
        let mut conn = AsyncPgConnection::establish(&database.url).await.unwrap();
        // An empty table makes every plan cheap: forbid the sequential scan so the planner
        // shows whether it could use the index at all, and in which order.
        conn.batch_execute(
            "SET plan_cache_mode = force_generic_plan;
             SET enable_seqscan = off;
             CREATE FUNCTION pg_temp.plan_of(statement text) RETURNS SETOF text LANGUAGE plpgsql AS $$
             DECLARE line text;
             BEGIN FOR line IN EXECUTE 'EXPLAIN ' || statement LOOP RETURN NEXT line; END LOOP; END $$;",
        )
        .await
        .unwrap();
        let at = Timestamp::UNIX_EPOCH;
        for (name, query, index) in [
            ("expired", expired_uploads(at, 10), "media_pending_by_expiry"),
            ("unattached", unattached_before(at, 10), "media_never_attached_by_creation"),
        ] {
            let debug = diesel::debug_query::<Pg, _>(&query).to_string();
            let statement = debug.split(" -- binds:").next().unwrap();
            conn.batch_execute(&format!("PREPARE {name} AS {statement}")).await.unwrap();
            let plan: Vec<PlanLine> = diesel::sql_query(format!(
                "SELECT line FROM pg_temp.plan_of('EXECUTE {name}(''2026-01-01T00:00:00Z'', 10)') AS line"
            ))
            .load(&mut conn)
            .await
            .unwrap();
            let plan: Vec<String> = plan.into_iter().map(|line| line.line).collect();
            assert!(plan.iter().any(|line| line.contains(&format!("Index Scan using {index}"))), "{name}: {plan:#?}");
            assert!(!plan.iter().any(|line| line.contains("Sort")), "{name} must not sort: {plan:#?}");
        }
    }
}
