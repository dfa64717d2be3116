//! That an event is queued as a push job (best effort, and not at all without a push
//! queue), and that a send queues one for a new message but none for a retried one.

use std::sync::Arc;

use futures_executor::block_on;

use super::{SENDER, SEQ, conversation_id, message_id, now, request_id, uid, unused_queue};
use crate::app::Deps;
use crate::app::mock_deps::{FIXED_ID, mock_deps};
use crate::app::push::enqueue;
use crate::domain::conversation::{ConversationKind, Member, Role};
use crate::domain::error::PortError;
use crate::domain::ids::{MessageId, SessionId};
use crate::domain::job::JobTask;
use crate::domain::message::NewMessage;
use crate::domain::push::{PushEvent, PushTask};
use crate::ports::*;

#[test]
fn without_a_push_queue_nothing_is_queued() {
    let mut jobs = MockJobQueue::new();
    jobs.expect_enqueue().never();
    jobs.expect_enqueue_after().never();
    let deps = Deps { jobs: Arc::new(jobs), push_jobs: None, ..mock_deps(now()) };
    block_on(enqueue(&deps, PushEvent::Message(message_id())));
}

#[test]
fn an_event_is_queued_as_a_push_job_to_everyone_it_concerns() {
    let event = PushEvent::FriendRequest(request_id());
    let mut queue = MockJobQueue::new();
    queue
        .expect_enqueue()
        .withf(move |task| *task == JobTask::Push(PushTask::event(event)))
        .times(1)
        .returning(|_| Ok(true));
    let deps = Deps { push_jobs: Some(Arc::new(queue)), ..mock_deps(now()) };
    block_on(enqueue(&deps, event));
}

#[test]
fn a_queue_error_is_not_the_callers() {
    let mut queue = MockJobQueue::new();
    queue.expect_enqueue().times(1).returning(|_| Err(PortError::Unavailable("redis down".into())));
    let deps = Deps { push_jobs: Some(Arc::new(queue)), ..mock_deps(now()) };
    // Returns (), and the failed enqueue was tried exactly once.
    block_on(enqueue(&deps, PushEvent::Message(message_id())));
}

// ---- through a send ----

/// A group member's send whose insert the store answers with `outcome`, with `queue` as
/// the push queue.
fn send_with(outcome: fn(NewMessage) -> InsertOutcome, queue: MockJobQueue) -> Result<bool, String> {
    use crate::app::messages::{SendMessage, send};
    use crate::domain::ids::ClientMsgId;
    use crate::domain::rate_limit::RateDecision;

    let mut conversations = MockConversationRepo::new();
    conversations.expect_write_context().returning(|conversation, user| {
        let member = Member::new(conversation, user, Role::Member, now());
        Ok(Some(WriteContext { member, kind: ConversationKind::Group, peer: None }))
    });
    let mut rate_limits = MockRateLimitStore::new();
    rate_limits.expect_check().returning(|_, _, _| Ok(RateDecision::Allowed));
    let mut messages = MockMessageRepo::new();
    messages.expect_insert_message().times(1).returning(move |new| Ok(outcome(new)));
    let mut events = MockEventBus::new();
    events.expect_publish().returning(|_| Ok(()));
    let deps = Deps {
        conversations: Arc::new(conversations),
        rate_limits: Arc::new(rate_limits),
        messages: Arc::new(messages),
        events: Arc::new(events),
        push_jobs: Some(Arc::new(queue)),
        ..mock_deps(now())
    };
    let actor = crate::app::Actor { user_id: uid(SENDER), session_id: SessionId(uuid::Uuid::from_u128(2)) };
    let command = SendMessage {
        client_msg_id: ClientMsgId(uuid::Uuid::from_u128(77)),
        kind: None,
        body: Some("xin chào".into()),
        media_ids: Vec::new(),
        reply_to: None,
    };
    block_on(send(&deps, actor, conversation_id(), command)).map(|sent| sent.created).map_err(|e| e.to_string())
}

#[test]
fn a_new_send_queues_one_push_job_for_its_message() {
    let mut queue = MockJobQueue::new();
    let stored = MessageId(uuid::Uuid::from_u128(FIXED_ID));
    queue
        .expect_enqueue()
        .withf(move |task| *task == JobTask::Push(PushTask::event(PushEvent::Message(stored))))
        .times(1)
        .returning(|_| Ok(true));
    queue.expect_enqueue_after().never();
    let inserted =
        |new: NewMessage| InsertOutcome::Inserted { message: new.into_message(SEQ), members: vec![uid(SENDER)] };
    assert_eq!(send_with(inserted, queue), Ok(true));
}

#[test]
fn a_retried_send_queues_no_push_job() {
    let existing = |new: NewMessage| InsertOutcome::Existing(new.into_message(SEQ));
    assert_eq!(send_with(existing, unused_queue()), Ok(false));
}
