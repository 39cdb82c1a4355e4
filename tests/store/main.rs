//! The storage test suite: the `Store` contract (`contract.rs`), every test on a fresh SQLite
//! file and on a fresh schema of the Postgres named by `AGENTOS_TEST_POSTGRES_URL`; and what
//! only SQLite does (`sqlite_only.rs`).

mod backend;
mod contract;
mod service_accounts;
mod sqlite_only;

/// Declares each contract test twice: `sqlite::<name>` and `postgres::<name>`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = crate::backend::TestDb::sqlite();
                    crate::contract::$name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::backend::TestDb::postgres().await else {
                        return;
                    };
                    crate::contract::$name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}

on_both_backends!(
    a_run_is_stored_with_its_session,
    a_session_of_another_component_is_refused,
    an_idempotency_key_names_one_run_until_it_expires,
    a_finished_run_keeps_its_output_and_its_jobs,
    a_leased_job_is_claimed_only_by_its_owner_until_the_lease_expires,
    a_job_stored_claimed_is_running_its_first_attempt,
    due_jobs_are_claimed_once_each_and_only_when_due,
    attempts_are_recorded_and_failed_jobs_can_be_retried,
    hook_jobs_are_filtered_and_paged,
    a_job_of_another_kind_without_a_run_is_claimed_retried_and_listed,
    jobs_are_listed_by_kind,
    a_failing_write_fails_alone,
    a_restart_on_an_exclusive_database_takes_everything_over,
    a_dead_owners_runs_and_job_leases_are_reconciled,
    a_cancel_asked_of_another_process_is_pending_for_its_owner,
    concurrent_runs_in_one_session_are_all_stored,
    a_background_run_keeps_its_request_checkpoint_and_events,
    sessions_are_listed_updated_and_deleted,
    a_session_created_before_its_runs_is_completed_by_the_first,
    an_agents_history_is_its_last_completed_runs,
    a_jobs_context_gets_its_output_from_its_run_even_once_deleted,
    service_accounts_are_found_by_token_hash_and_revoked,
    service_accounts_are_scoped_to_their_user_and_paged,
);
