//! The embedding example runs in the test suite: what `main` prints is checked here.

use chat_core::domain::event::Event;

#[tokio::test]
async fn the_example_delivers_the_message_to_the_recipient() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let outcome = chat_embedding_example::run().await?;
    let sent = &outcome.sent;
    assert_eq!(sent.body.as_deref(), Some("Chào Minh!"));
    assert_ne!(sent.sender_id, outcome.recipient);

    // The recipient gets it both ways a client reads: by sync and by history.
    assert_eq!(outcome.synced_by_recipient, vec![sent.clone()], "the recipient's sync");
    assert_eq!(outcome.history_of_recipient, vec![sent.clone()], "the recipient's history");

    // Our own bus adapter saw the live delivery of that message, addressed to the recipient.
    let delivered_to_recipient = outcome.published.iter().any(|delivery| {
        matches!(&delivery.event, Event::MessageNew { message } if message == sent)
            && delivery.recipients.contains(&outcome.recipient)
    });
    assert!(delivered_to_recipient, "no message.new for the recipient among {:#?}", outcome.published);

    assert_eq!(outcome.self_chat_error_code, "cannot_chat_with_self");
    Ok(())
}
