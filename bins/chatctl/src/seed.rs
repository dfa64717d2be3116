//! `seed-demo`: a small believable world of users, conversations and messages.

use anyhow::Context;
use chat_core::app::auth::{self, Register};
use chat_core::app::messages::{self, SendMessage};
use chat_core::app::{Actor, Limits, conversations};
use chat_core::domain::ids::{ClientMsgId, ConversationId};
use chat_core::domain::rate_limit::Quota;

use crate::admin::connect;

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
];
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
];
const PASSWORD: &str = "demo password 123";

pub async fn seed_demo(url: &str, users: u32, message_count: u32) -> anyhow::Result<()> {
    // Seeding sends far faster than a person: lift the chat limit for this process.
    let limits = Limits { chat: Quota::per_minute(u32::MAX), ..Limits::default() };
    let (_store, deps) = connect(url, limits).await?;
    // A tag per run keeps usernames unique, so seeding twice adds a second world.
    let tag = &uuid::Uuid::now_v7().simple().to_string()[24..];
    let mut actors = Vec::new();
    for n in 0..users {
        let name = NAMES[n as usize % NAMES.len()];
        let registration = Register {
            username: format!("demo{n}.{tag}"),
            password: PASSWORD.to_owned(),
            display_name: name.to_owned(),
            phone: None,
            device_name: Some("seed".to_owned()),
            client_ip: None,
        };
        let done = auth::register(&deps, registration).await.context("registering a demo user")?;
        actors.push(Actor { user_id: done.user.id, session_id: done.tokens.session_id });
    }
    // Everyone befriends the first user, who is in a direct conversation with each and in
    // one group with all.
    let first = actors[0];
    let mut rooms: Vec<(ConversationId, Vec<Actor>)> = Vec::new();
    for other in &actors[1..] {
        if let chat_core::app::social::RequestResult::Sent(request) =
            chat_core::app::social::send_request(&deps, *other, first.user_id, Some("Kết bạn nhé")).await?
        {
            chat_core::app::social::answer_request(
                &deps,
                first,
                request.id,
                chat_core::domain::social::RequestStatus::Accepted,
            )
            .await?;
        }
        let (direct, _) = conversations::open_direct(&deps, first, other.user_id).await?;
        rooms.push((direct.conversation.id, vec![first, *other]));
    }
    let everyone: Vec<_> = actors[1..].iter().map(|a| a.user_id).collect();
    let group = conversations::create_group(&deps, first, "Lớp 12A1 - họp lớp", &everyone).await?;
    rooms.push((group.conversation.id, actors.clone()));

    for n in 0..message_count as usize {
        let (conversation, members) = &rooms[n % rooms.len()];
        let sender = members[n % members.len()];
        let command = SendMessage {
            client_msg_id: ClientMsgId(uuid::Uuid::now_v7()),
            body: Some(LINES[n % LINES.len()].to_owned()),
            reply_to: None,
        };
        messages::send(&deps, sender, *conversation, command).await.context("sending a demo message")?;
    }
    println!("seeded {users} users, {} conversations, {message_count} messages", rooms.len());
    println!("log in as demo0.{tag} with password {PASSWORD:?}");
    Ok(())
}
