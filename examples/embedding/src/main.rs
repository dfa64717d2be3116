//! Runs the embedding example: `cargo run -p chat-embedding-example`.

use chat_core::domain::event::Event;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let outcome = chat_embedding_example::run().await?;
    println!("sent: {:?}", outcome.sent.body);
    println!("the recipient's sync returned {} message(s)", outcome.synced_by_recipient.len());
    println!("the recipient's history holds {} message(s)", outcome.history_of_recipient.len());
    println!("a chat with oneself is refused with code {:?}", outcome.self_chat_error_code);
    for delivery in &outcome.published {
        let kind = match &delivery.event {
            Event::MessageNew { .. } => "message.new",
            Event::ConversationUpdated { .. } => "conversation.updated",
            _ => "other",
        };
        println!("published {kind} to {} recipient(s)", delivery.recipients.len());
    }
    Ok(())
}
