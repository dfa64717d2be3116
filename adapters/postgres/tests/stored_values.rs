//! Values stored under older, looser rules stay readable: the rules for new input may tighten
//! (they did for phone numbers, control characters and direction overrides), and a row
//! written before must not make its user fail every read with an internal error.

// A failed expectation in a test should stop it with a message: that is what these are for.
#![allow(clippy::unwrap_used)]

use chat_core::ports::UserRepo;
use chat_core::testkit::contract;
use chat_postgres::testing::TestDatabase;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_stored_under_older_rules_is_read_back_as_written() {
    let database = TestDatabase::create().await;
    let store = database.store(2).await;
    let id = contract::user(&store, "An").await;
    // A name with a right-to-left override (refused for new names now) and a number in a
    // range libphonenumber calls unassigned (+84 99x), as the old parsers accepted them.
    let updated = store
        .execute_raw(&format!(
            "UPDATE users SET display_name = 'admin' || chr(8238) || 'nimda', phone = '+84992345678' WHERE id = '{id}'"
        ))
        .await
        .unwrap();
    assert_eq!(updated, 1);
    let user = store.user(id).await.unwrap().unwrap();
    assert_eq!(user.display_name.as_str(), "admin\u{202E}nimda");
    assert_eq!(user.phone.map(|phone| phone.as_str().to_owned()).as_deref(), Some("+84992345678"));
    // New input under the current rules is still refused.
    assert!(chat_core::domain::account::DisplayName::parse("admin\u{202E}nimda").is_err());
    assert!(chat_core::domain::account::Phone::parse("+84992345678").is_err());
}
