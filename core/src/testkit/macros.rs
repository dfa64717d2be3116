//! The macros that turn each contract suite into one test per check for an adapter, so that
//! one broken behaviour fails one named test and the others still run and report.
//!
//! Every suite macro takes the same input:
//!
//! ```ignore
//! chat_core::testkit::store_contract_tests! {
//!     mod postgres_store;
//!     #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//!     let (_database, store) = postgres_store(52).await;
//!     check(&store);
//! }
//! ```
//!
//! and declares `mod postgres_store` holding one `async fn` per check, named after it, with
//! the given test attribute. Each test runs the `let` on its own, so every check gets a fresh
//! adapter (bindings such as `_database` live until the check ends), then awaits the check on
//! the `check(...)` argument. The module starts with `use super::*`, so the constructor may
//! name whatever the calling file imports. The runtime is the caller's: the test attribute
//! is written where `tokio` (or any other runtime) is a dependency, never in `chat-core`.
//!
//! The lists of checks below are the suites' only registry: `tests::every_check_is_listed`
//! fails when a suite gains a public check that its macro does not run.

/// Declares one test per check of a suite; the suite macros below fill in the list.
#[doc(hidden)]
#[macro_export]
macro_rules! __contract_tests {
    (
        [$($module:ident :: $check:ident),* $(,)?]
        mod $name:ident;
        #[$attr:meta]
        let $fixture:pat = $make:expr;
        check($adapter:expr);
    ) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[$attr]
                async fn $check() {
                    let $fixture = $make;
                    $crate::testkit::$module::$check($adapter).await;
                }
            )*
        }
    };
}

/// One test per check of the store contract (`&dyn Store`: users aside, see
/// [`user_repo_contract_tests!`](crate::user_repo_contract_tests)).
#[macro_export]
macro_rules! store_contract_tests {
    ($($input:tt)*) => {
        $crate::__contract_tests! {
            [
                sessions::refresh_tokens_rotate_once_and_replays_revoke,
                sessions::revoking_a_session_ends_that_session_only,
                sessions::revoking_all_sessions_names_the_active_ones_of_that_user,
                contract::concurrent_sends_get_gap_free_seqs,
                contract::a_client_msg_id_sent_twice_at_once_stores_one_message,
                contract::concurrent_sends_with_repeated_keys_and_many_conversations,
                contract::a_message_to_a_missing_conversation_fails_alone,
                contract::a_message_is_found_by_its_senders_client_msg_id_only,
                contract::an_inserted_message_names_the_members_it_reaches,
                contract::history_pages_both_ways_and_hides_per_viewer,
                contract::changes_are_numbered_per_conversation,
                contract::media_ids_round_trip,
                conversations::one_direct_conversation_per_pair_even_under_races,
                conversations::read_marks_clamp_never_go_back_and_drive_unread,
                conversations::membership_changes_respect_the_size_limit,
                conversations::members_are_listed_with_their_roles_owner_first,
                conversations::contacts_are_the_people_one_shares_a_conversation_with,
                conversations::conversation_seqs_list_each_conversation_of_the_user_with_its_counters,
                conversations::a_mute_belongs_to_one_member,
                conversations::pins_belong_to_one_member_and_stop_at_the_limit,
                conversations::unread_totals_sum_each_users_unmuted_conversations_up_to_a_cap,
            ]
            $($input)*
        }
    };
}

/// One test per check of the `UserRepo` contract (`&dyn UserRepo`), for stores and for
/// anything that wraps one (the Redis profile cache).
#[macro_export]
macro_rules! user_repo_contract_tests {
    ($($input:tt)*) => {
        $crate::__contract_tests! {
            [
                users::users_are_unique_by_username_and_phone,
                users::users_are_read_by_id_alone_or_together,
                users::a_profile_change_is_read_back_at_once,
                users::search_ignores_marks_and_phone_lookup_is_exact,
            ]
            $($input)*
        }
    };
}

/// One test per check of the social-graph contract (`&dyn SocialStore`).
#[macro_export]
macro_rules! social_contract_tests {
    ($($input:tt)*) => {
        $crate::__contract_tests! {
            [
                social::one_pending_request_per_pair_and_a_crossing_request_accepts,
                social::answers_apply_once,
                social::a_request_is_read_back_by_id_as_it_moves,
                social::a_block_ends_friendship_and_requests_and_hides_both_ways,
                social::the_write_context_tells_what_the_privacy_rules_need,
            ]
            $($input)*
        }
    };
}

/// One test per check of the message search contract (`&dyn Store`).
#[macro_export]
macro_rules! message_search_contract_tests {
    ($($input:tt)*) => {
        $crate::__contract_tests! {
            [
                search::marks_and_case_are_ignored_both_ways,
                search::the_last_word_matches_as_a_prefix_below_whole_words,
                search::a_long_enough_query_is_found_inside_words,
                search::only_the_scopes_are_searched_from_their_seq,
                search::recalled_system_hidden_and_excluded_are_never_found,
                search::captions_are_searched_and_filters_narrow,
                search::results_rank_by_score_then_id,
                search::pages_neither_repeat_nor_skip,
                search::operators_and_wildcards_are_plain_text,
            ]
            $($input)*
        }
    };
}

/// One test per check of the presence contract (`&dyn PresenceStore`).
#[macro_export]
macro_rules! presence_contract_tests {
    ($($input:tt)*) => {
        $crate::__contract_tests! {
            [
                presence::sessions_bring_users_online_and_the_last_to_leave_takes_them_offline,
                presence::expired_sessions_are_handed_out_exactly_once,
                presence::many_sessions_renew_at_once,
            ]
            $($input)*
        }
    };
}

/// One test per check of the rate-limit contract (`&dyn RateLimitStore`).
#[macro_export]
macro_rules! rate_limit_contract_tests {
    ($($input:tt)*) => {
        $crate::__contract_tests! {
            [
                rate_limit::a_burst_is_admitted_then_the_next_waits_one_interval,
                rate_limit::concurrent_requests_admit_exactly_the_burst,
            ]
            $($input)*
        }
    };
}

/// One test per check of the blob-store contract (`(&dyn BlobStore, &dyn SignedRequests)`).
#[macro_export]
macro_rules! blob_store_contract_tests {
    ($($input:tt)*) => {
        $crate::__contract_tests! {
            [
                blobs::a_presigned_put_stores_exactly_the_bytes_and_head_reports_them,
                blobs::read_prefix_returns_the_leading_bytes_or_all_of_a_short_object,
                blobs::a_missing_key_has_no_head_and_no_prefix,
                blobs::copy_if_match_copies_when_the_etag_matches,
                blobs::copy_if_match_refuses_a_rewritten_source_and_leaves_the_target_absent,
                blobs::copying_a_missing_source_reports_it_missing,
                blobs::delete_removes_and_deleting_again_succeeds,
                blobs::list_older_than_keeps_to_the_prefix_and_the_age,
                blobs::list_older_than_honours_the_limit,
                blobs::uploaded_parts_are_listed_with_numbers_and_sizes,
                blobs::complete_multipart_joins_the_parts_in_order,
                blobs::presign_get_downloads_the_bytes_and_a_range_answers_206_with_the_slice,
                blobs::local_files_go_down_and_up_byte_for_byte,
            ]
            $($input)*
        }
    };
}

/// One test per check of the blob store's strict multipart bookkeeping (same input as
/// [`blob_store_contract_tests!`]): part ETags listed, finished uploads forgotten, part ETags
/// compared at completion. S3 keeps it; the local test S3 server does not, so the S3
/// adapter's test against it leaves this suite out (see `blobs.rs`).
#[macro_export]
macro_rules! strict_multipart_contract_tests {
    ($($input:tt)*) => {
        $crate::__contract_tests! {
            [
                blobs::listed_parts_carry_the_etags_their_puts_answered,
                blobs::a_completed_upload_is_forgotten,
                blobs::complete_multipart_with_a_wrong_etag_is_refused_and_stores_nothing,
                blobs::abort_multipart_forgets_the_upload,
            ]
            $($input)*
        }
    };
}

/// One test per check of the media-repo contract (`&dyn MediaStore`).
#[macro_export]
macro_rules! media_repo_contract_tests {
    ($($input:tt)*) => {
        $crate::__contract_tests! {
            [
                media::a_created_record_reads_back_pending_as_given,
                media::the_quota_admits_up_to_it_and_refuses_past_it,
                media::concurrent_creates_never_exceed_the_quota,
                media::usage_follows_creates_and_deletes_per_kind,
                media::mark_uploaded_moves_a_pending_record_once,
                media::media_batch_returns_the_existing_ones_only,
                media::attaching_is_idempotent_and_stamps_attached_at_once,
                media::delete_unattached_deletes_and_releases_or_refuses,
                media::kept_media_stay_out_of_cleanup,
                media::processing_steps_move_forward_and_ready_is_set_once,
                media::a_failure_keeps_its_reason_and_is_final,
                media::unfinished_lists_uploaded_and_processing_records_oldest_first,
                media::detaching_a_message_leaves_the_other_attachments,
                media::concurrent_deletes_release_usage_once,
                media::expired_uploads_are_the_pending_ones_past_their_window,
                media::unattached_before_lists_never_attached_completed_records,
            ]
            $($input)*
        }
    };
}

/// One test per check of the claim-store contract (`&dyn ClaimStore`).
#[macro_export]
macro_rules! claim_store_contract_tests {
    ($($input:tt)*) => {
        $crate::__contract_tests! {
            [
                claims::the_first_claim_wins_and_later_ones_lose_while_it_holds,
                claims::concurrent_claims_of_one_key_have_one_winner,
                claims::a_lapsed_claim_can_be_claimed_again,
                claims::claims_of_different_keys_are_independent,
            ]
            $($input)*
        }
    };
}

/// One test per check of the call-store contract (`&dyn CallStore`).
#[macro_export]
macro_rules! call_store_contract_tests {
    ($($input:tt)*) => {
        $crate::__contract_tests! {
            [
                calls::a_started_call_reads_back_at_version_one,
                calls::a_call_involving_a_user_in_a_call_is_busy_and_stores_nothing,
                calls::concurrent_calls_to_one_user_start_once,
                calls::an_update_naming_the_stored_version_replaces_the_call,
                calls::an_update_naming_a_stale_version_changes_nothing,
                calls::concurrent_updates_of_one_version_have_one_winner,
                calls::ending_a_call_frees_both_users_and_keeps_the_call,
                calls::ending_a_call_does_not_free_a_user_in_another_call,
                calls::due_timers_are_taken_once_and_later_ones_stay,
                calls::rearming_a_timer_moves_it_and_disarming_removes_it,
                calls::concurrent_takes_hand_each_timer_to_one_taker,
                calls::a_call_and_its_users_expire_after_the_ttl,
                calls::an_update_sets_the_ttl_of_the_call_and_its_users,
                calls::calls_are_listed_under_the_nodes_of_their_parties,
            ]
            $($input)*
        }
    };
}

/// One test per check of the node-registry contract (`&dyn NodeRegistry`).
#[macro_export]
macro_rules! node_registry_contract_tests {
    ($($input:tt)*) => {
        $crate::__contract_tests! {
            [
                nodes::a_first_beat_lists_the_node_and_later_ones_find_it_listed,
                nodes::nodes_silent_since_an_instant_are_found_with_their_last_beat,
                nodes::a_forgotten_node_is_unlisted_unless_it_beat_again,
                nodes::a_node_that_leaves_is_unlisted,
            ]
            $($input)*
        }
    };
}

/// One test per check of the event-bus contract (`[&dyn EventBus; 2]`: two nodes on one
/// bus; an in-process bus passes itself twice).
#[macro_export]
macro_rules! event_bus_contract_tests {
    ($($input:tt)*) => {
        $crate::__contract_tests! {
            [
                events::a_delivery_reaches_every_sink_on_every_node_once_unchanged,
                events::one_nodes_deliveries_arrive_in_the_order_they_were_published,
                events::a_sink_subscribed_later_gets_what_is_published_after,
            ]
            $($input)*
        }
    };
}

/// One test per check of the job-queue contract (`&dyn JobQueue`, built with
/// `testkit::jobs::contract_policy()`).
#[macro_export]
macro_rules! job_queue_contract_tests {
    ($($input:tt)*) => {
        $crate::__contract_tests! {
            [
                jobs::jobs_are_taken_in_the_order_they_were_enqueued,
                jobs::enqueuing_a_media_with_a_live_job_adds_none,
                jobs::a_waiting_take_gets_a_job_enqueued_meanwhile,
                jobs::a_take_given_up_while_waiting_leaves_nothing_behind,
                jobs::a_taken_job_goes_to_no_one_else_before_its_timeout,
                jobs::a_job_whose_worker_died_is_finished_once_by_another,
                jobs::an_extended_claim_is_handed_out_again_only_once_it_stops,
                jobs::only_the_current_claim_can_be_extended,
                jobs::a_failed_job_comes_back_after_its_backoff,
                jobs::a_retry_after_longer_than_the_backoff_is_honoured,
                jobs::a_job_enqueued_with_a_delay_waits_for_it,
                jobs::a_job_failing_its_last_attempt_is_dead_until_retried,
                jobs::a_job_timing_out_on_every_attempt_is_dead_lettered,
                jobs::concurrent_takes_hand_each_job_to_one_worker,
            ]
            $($input)*
        }
    };
}

/// One test per check of the device-repo contract (`&dyn DeviceStore`: a store that also
/// keeps push registrations).
#[macro_export]
macro_rules! device_repo_contract_tests {
    ($($input:tt)*) => {
        $crate::__contract_tests! {
            [
                devices::registered_devices_read_back_as_written_oldest_first,
                devices::a_token_registered_again_moves_and_keeps_its_id,
                devices::concurrent_registrations_of_one_token_leave_one,
                devices::devices_of_users_returns_exactly_theirs,
                devices::a_user_removes_only_their_own_device,
                devices::removing_a_sessions_devices_leaves_the_others,
                devices::a_token_is_removed_wherever_it_is,
            ]
            $($input)*
        }
    };
}

#[cfg(test)]
mod tests {
    /// Every `pub async fn` of a suite is a check, and must be in its macro's list: a check
    /// left out would never run, and nothing would say so.
    #[test]
    fn every_check_is_listed() {
        let macros = include_str!("macros.rs");
        let suites = [
            ("contract", include_str!("contract.rs")),
            ("sessions", include_str!("sessions.rs")),
            ("conversations", include_str!("conversations.rs")),
            ("users", include_str!("users.rs")),
            ("social", include_str!("social.rs")),
            ("presence", include_str!("presence.rs")),
            ("rate_limit", include_str!("rate_limit.rs")),
            ("events", include_str!("events.rs")),
            ("blobs", include_str!("blobs.rs")),
            ("media", include_str!("media.rs")),
            ("claims", include_str!("claims.rs")),
            ("calls", include_str!("calls.rs")),
            ("jobs", include_str!("jobs.rs")),
            ("search", include_str!("search.rs")),
            ("devices", include_str!("devices.rs")),
        ];
        let mut checks = 0;
        for (module, source) in suites {
            for line in source.lines() {
                let Some(rest) = line.strip_prefix("pub async fn ") else { continue };
                let name = rest.split(['(', '<']).next().unwrap_or_default();
                // Helpers that build fixtures are public too; checks take the adapter alone.
                if HELPERS.contains(&name) {
                    continue;
                }
                checks += 1;
                let entry = format!("{module}::{name},");
                assert!(macros.contains(&entry), "{module}::{name} is not in its suite's macro");
            }
        }
        assert!(checks >= 30, "found only {checks} checks: is the scan still reading the suites?");
    }

    /// The public async functions of the suites that are fixtures, not checks.
    const HELPERS: &[&str] = &["user", "group", "direct"];
}
