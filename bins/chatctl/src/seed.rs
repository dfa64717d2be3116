//! `seed-demo`: a small believable world of users, conversations and messages, made through
//! the use cases so every rule (validation, privacy, membership, seq allocation) applies.
//!
//! Each run tags its usernames with a short random suffix, so seeding twice adds a second,
//! separate world instead of failing on taken usernames.

use std::time::Instant;

use anyhow::Context;
use chat_core::app::auth::{self, Register};
use chat_core::app::messages::{self, SendMessage};
use chat_core::app::social::{self, RequestResult};
use chat_core::app::{Actor, Deps, Limits, conversations};
use chat_core::domain::conversation::MAX_GROUP_MEMBERS;
use chat_core::domain::ids::{ClientMsgId, ConversationId, MessageId};
use chat_core::domain::rate_limit::Quota;
use chat_core::domain::social::RequestStatus;

use crate::wiring::{MediaPlace, connect};

const NAMES: &[&str] = &[
    "Nguyễn Văn An",
    "Trần Thị Bình",
    "Lê Hoàng Châu",
    "Phạm Minh Dũng",
    "Hoàng Thị Hà",
    "Vũ Đức Huy",
    "Đặng Thu Lan",
    "Bùi Quang Minh",
    "Đỗ Thị Ngọc",
    "Hồ Văn Phúc",
    "Ngô Thanh Quang",
    "Dương Thị Thảo",
    "Lý Văn Tùng",
    "Trịnh Thị Uyên",
    "Phan Gia Bảo",
    "Mai Khánh Linh",
];
const ALL_HANDS: &str = "Lớp 12A1 - họp lớp";
const GROUPS: &[&str] = &["Gia đình mình", "Đồng nghiệp phòng kỹ thuật", "Hội đá bóng thứ bảy"];
const LINES: &[&str] = &[
    "Chào cả nhà!",
    "Tối nay đi ăn phở không?",
    "Mình đến muộn 10 phút nhé",
    "Ok 👍",
    "Ảnh đẹp quá",
    "Thứ bảy này họp lớp nha",
    "Đã gửi file rồi đó",
    "Cảm ơn bạn nhiều!",
    "Hà Nội hôm nay mưa to",
    "Haha 😂",
    "Để mình xem lịch đã",
    "Chúc mừng sinh nhật! 🎂",
];
/// Every demo user's password; printed once at the end.
const PASSWORD: &str = "demo password 123";

/// A conversation to talk in, who is in it, and its newest message (for replies).
struct Room {
    id: ConversationId,
    members: Vec<Actor>,
    last: Option<MessageId>,
}

pub async fn seed_demo(url: &str, users: u32, message_count: u32, media: &MediaPlace) -> anyhow::Result<()> {
    let started = Instant::now();
    // Seeding sends far faster than a person: lift the chat limit for this process.
    let limits = Limits { chat: Quota::per_minute(u32::MAX), ..Limits::default() };
    let (_store, deps) = connect(url, limits, media).await?;
    let tag = &uuid::Uuid::now_v7().simple().to_string()[24..];
    let actors = register_users(&deps, users, tag).await?;
    let mut rooms = open_rooms(&deps, &actors).await?;
    // One direct conversation per user besides the first; the rest are groups.
    let directs = actors.len().saturating_sub(1);
    let groups = rooms.len() - directs;
    send_messages(&deps, &mut rooms, message_count as usize).await?;
    println!(
        "seeded {users} users, {directs} direct and {groups} group conversations, {message_count} messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!("demo login: username demo0.{tag}, password {PASSWORD:?} (every demo{{n}}.{tag} has it)");
    Ok(())
}

async fn register_users(deps: &Deps, users: u32, tag: &str) -> anyhow::Result<Vec<Actor>> {
    let mut actors = Vec::new();
    for n in 0..users as usize {
        let registration = Register {
            username: format!("demo{n}.{tag}"),
            password: PASSWORD.to_owned(),
            display_name: NAMES[n % NAMES.len()].to_owned(),
            phone: None,
            device_name: Some("seed-demo".to_owned()),
            client_ip: None,
        };
        let done = auth::register(deps, registration).await.with_context(|| format!("registering demo{n}.{tag}"))?;
        actors.push(Actor { user_id: done.user.id, session_id: done.tokens.session_id });
    }
    Ok(actors)
}

/// Everyone befriends the first user, who has a direct conversation with each, one group
/// with everyone (up to the group size limit) and, with enough users, a few smaller groups.
async fn open_rooms(deps: &Deps, actors: &[Actor]) -> anyhow::Result<Vec<Room>> {
    let Some((&first, others)) = actors.split_first() else { return Ok(Vec::new()) };
    let mut rooms = Vec::new();
    for &other in others {
        if let RequestResult::Sent(request) =
            social::send_request(deps, other, first.user_id, Some("Kết bạn nhé")).await?
        {
            social::answer_request(deps, first, request.id, RequestStatus::Accepted).await?;
        }
        let (direct, _) = conversations::open_direct(deps, first, other.user_id).await?;
        rooms.push(Room { id: direct.conversation.id, members: vec![first, other], last: None });
    }
    let mut groups = vec![(ALL_HANDS, &others[..others.len().min(MAX_GROUP_MEMBERS - 1)])];
    if others.len() >= 4 {
        groups.extend(GROUPS.iter().copied().zip(others.chunks(4)));
    }
    for (title, invited) in groups {
        let ids: Vec<_> = invited.iter().map(|a| a.user_id).collect();
        let group = conversations::create_group(deps, first, title, &ids).await?;
        let members = std::iter::once(first).chain(invited.iter().copied()).collect();
        rooms.push(Room { id: group.conversation.id, members, last: None });
    }
    Ok(rooms)
}

/// Round-robin over the rooms; within a room the members take turns, and every fifth message
/// replies to the one before it.
async fn send_messages(deps: &Deps, rooms: &mut [Room], count: usize) -> anyhow::Result<()> {
    if rooms.is_empty() {
        return Ok(());
    }
    let room_count = rooms.len();
    for n in 0..count {
        let (index, round) = (n % room_count, n / room_count);
        let room = &mut rooms[index];
        let sender = room.members[round % room.members.len()];
        let command = SendMessage {
            reply_to: if round % 5 == 4 { room.last } else { None },
            ..SendMessage::text(ClientMsgId(uuid::Uuid::now_v7()), LINES[(round + index) % LINES.len()])
        };
        let sent = messages::send(deps, sender, room.id, command).await.context("sending a demo message")?;
        room.last = Some(sent.message.id);
    }
    Ok(())
}
