//! `SocialRepo` on Postgres. Friendships are stored once per side; a partial unique index
//! keeps at most one pending request per pair.

use std::collections::HashSet;

use async_trait::async_trait;
use chat_core::domain::Timestamp;
use chat_core::domain::error::PortError;
use chat_core::domain::ids::{FriendRequestId, UserId};
use chat_core::domain::social::{Block, FriendRequest, Friendship, RequestStatus};
use chat_core::ports::{SendRequestOutcome, SocialRepo};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::PgStore;
use crate::error::{TxStop, corrupt, from_diesel, is_unique_violation, settle};
use crate::schema::{blocks, friend_requests, friendships};

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = friend_requests, check_for_backend(diesel::pg::Pg))]
struct RequestRow {
    id: uuid::Uuid,
    from_user: uuid::Uuid,
    to_user: uuid::Uuid,
    message: String,
    status: String,
    created_at: Timestamp,
    answered_at: Option<Timestamp>,
}

fn status_name(status: RequestStatus) -> &'static str {
    match status {
        RequestStatus::Pending => "pending",
        RequestStatus::Accepted => "accepted",
        RequestStatus::Declined => "declined",
        RequestStatus::Cancelled => "cancelled",
    }
}

impl RequestRow {
    fn from_request(request: &FriendRequest) -> RequestRow {
        RequestRow {
            id: request.id.0,
            from_user: request.from_user.0,
            to_user: request.to_user.0,
            message: request.message.clone(),
            status: status_name(request.status).to_owned(),
            created_at: request.created_at,
            answered_at: request.answered_at,
        }
    }

    fn into_request(self) -> Result<FriendRequest, PortError> {
        Ok(FriendRequest {
            id: FriendRequestId(self.id),
            from_user: UserId(self.from_user),
            to_user: UserId(self.to_user),
            message: self.message,
            status: match self.status.as_str() {
                "pending" => RequestStatus::Pending,
                "accepted" => RequestStatus::Accepted,
                "declined" => RequestStatus::Declined,
                "cancelled" => RequestStatus::Cancelled,
                other => return Err(corrupt("request status", other)),
            },
            created_at: self.created_at,
            answered_at: self.answered_at,
        })
    }
}

/// Whether either user blocked the other, inside the caller's transaction.
async fn blocked_in(conn: &mut AsyncPgConnection, a: UserId, b: UserId) -> QueryResult<bool> {
    let count: i64 = blocks::table
        .filter(
            (blocks::blocker_id.eq(a.0).and(blocks::blocked_id.eq(b.0)))
                .or(blocks::blocker_id.eq(b.0).and(blocks::blocked_id.eq(a.0))),
        )
        .count()
        .get_result(conn)
        .await?;
    Ok(count > 0)
}

async fn befriend(conn: &mut AsyncPgConnection, a: UserId, b: UserId, since: Timestamp) -> QueryResult<usize> {
    diesel::insert_into(friendships::table)
        .values(&vec![
            (friendships::user_id.eq(a.0), friendships::friend_id.eq(b.0), friendships::since.eq(since)),
            (friendships::user_id.eq(b.0), friendships::friend_id.eq(a.0), friendships::since.eq(since)),
        ])
        .on_conflict_do_nothing()
        .execute(conn)
        .await
}

async fn unfriend_in(conn: &mut AsyncPgConnection, a: UserId, b: UserId) -> QueryResult<usize> {
    diesel::delete(
        friendships::table.filter(
            (friendships::user_id.eq(a.0).and(friendships::friend_id.eq(b.0)))
                .or(friendships::user_id.eq(b.0).and(friendships::friend_id.eq(a.0))),
        ),
    )
    .execute(conn)
    .await
}

fn pending_between(a: UserId, b: UserId) -> friend_requests::BoxedQuery<'static, diesel::pg::Pg> {
    friend_requests::table
        .filter(friend_requests::status.eq("pending"))
        .filter(
            (friend_requests::from_user.eq(a.0).and(friend_requests::to_user.eq(b.0)))
                .or(friend_requests::from_user.eq(b.0).and(friend_requests::to_user.eq(a.0))),
        )
        .into_boxed()
}

/// One attempt at sending a request, in a transaction; `Rollback` when a crossing request won.
async fn try_send_request(
    conn: &mut AsyncPgConnection,
    request: &FriendRequest,
) -> Result<SendRequestOutcome, TxStop<()>> {
    conn.transaction::<_, TxStop<()>, _>(async |conn| {
        let (from, to) = (request.from_user, request.to_user);
        if blocked_in(conn, from, to).await? {
            return Ok(SendRequestOutcome::Blocked);
        }
        let friends: i64 = friendships::table.find((from.0, to.0)).count().get_result(conn).await?;
        if friends > 0 {
            return Ok(SendRequestOutcome::AlreadyFriends);
        }
        let pending: Option<RequestRow> =
            pending_between(from, to).select(RequestRow::as_select()).first(conn).await.optional()?;
        if let Some(pending) = pending {
            let pending = pending.into_request()?;
            if pending.from_user == from {
                return Ok(SendRequestOutcome::AlreadyPending(pending));
            }
            let at = request.created_at;
            // Only a still-pending request is accepted: a concurrent answer makes this miss.
            let accepted: Option<RequestRow> =
                diesel::update(friend_requests::table.find(pending.id.0).filter(friend_requests::status.eq("pending")))
                    .set((friend_requests::status.eq("accepted"), friend_requests::answered_at.eq(Some(at))))
                    .returning(RequestRow::as_returning())
                    .get_result(conn)
                    .await
                    .optional()?;
            let Some(accepted) = accepted else { return Err(TxStop::Rollback(())) };
            befriend(conn, from, to, at).await?;
            return Ok(SendRequestOutcome::AcceptedTheirs(accepted.into_request()?));
        }
        let inserted =
            diesel::insert_into(friend_requests::table).values(RequestRow::from_request(request)).execute(conn).await;
        match inserted {
            Ok(_) => Ok(SendRequestOutcome::Sent(request.clone())),
            Err(error) if is_unique_violation(&error, "friend_requests_one_pending_per_pair") => {
                Err(TxStop::Rollback(()))
            }
            Err(error) => Err(error.into()),
        }
    })
    .await
}

#[async_trait]
impl SocialRepo for PgStore {
    async fn send_friend_request(&self, request: FriendRequest) -> Result<SendRequestOutcome, PortError> {
        let mut conn = self.conn().await?;
        // Two requests crossing at once: one insert trips the one-pending-per-pair index and
        // rolls back; on the retry it finds the other's request and accepts it.
        for _ in 0..3 {
            match settle(try_send_request(&mut conn, &request).await)? {
                Ok(outcome) => return Ok(outcome),
                Err(()) => continue,
            }
        }
        Err(PortError::Unavailable("friend requests kept colliding; retry".into()))
    }

    async fn friend_request(&self, id: FriendRequestId) -> Result<Option<FriendRequest>, PortError> {
        let mut conn = self.conn().await?;
        let row = friend_requests::table
            .find(id.0)
            .select(RequestRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(from_diesel)?;
        row.map(RequestRow::into_request).transpose()
    }

    async fn answer_friend_request(
        &self,
        id: FriendRequestId,
        status: RequestStatus,
        now: Timestamp,
    ) -> Result<Option<FriendRequest>, PortError> {
        let mut conn = self.conn().await?;
        let result = conn
            .transaction::<_, TxStop<()>, _>(async |conn| {
                let answered: Option<RequestRow> =
                    diesel::update(friend_requests::table.find(id.0).filter(friend_requests::status.eq("pending")))
                        .set((
                            friend_requests::status.eq(status_name(status)),
                            friend_requests::answered_at.eq(Some(now)),
                        ))
                        .returning(RequestRow::as_returning())
                        .get_result(conn)
                        .await
                        .optional()?;
                let Some(answered) = answered else { return Ok(None) };
                let (from, to) = (UserId(answered.from_user), UserId(answered.to_user));
                if status == RequestStatus::Accepted && blocked_in(conn, from, to).await? {
                    // Never a friendship across a block: undo the answer.
                    return Err(TxStop::Rollback(()));
                }
                if status == RequestStatus::Accepted {
                    befriend(conn, UserId(answered.from_user), UserId(answered.to_user), now).await?;
                }
                Ok(Some(answered.into_request()?))
            })
            .await;
        // A rollback means the accept would have crossed a block: as if it was not pending.
        Ok(settle(result)?.unwrap_or(None))
    }

    async fn pending_requests(&self, user: UserId, incoming: bool) -> Result<Vec<FriendRequest>, PortError> {
        let mut conn = self.conn().await?;
        let mut query = friend_requests::table.filter(friend_requests::status.eq("pending")).into_boxed();
        query = if incoming {
            query.filter(friend_requests::to_user.eq(user.0))
        } else {
            query.filter(friend_requests::from_user.eq(user.0))
        };
        let rows: Vec<RequestRow> = query
            .order((friend_requests::created_at.desc(), friend_requests::id.desc()))
            .select(RequestRow::as_select())
            .load(&mut conn)
            .await
            .map_err(from_diesel)?;
        rows.into_iter().map(RequestRow::into_request).collect()
    }

    async fn friends(&self, user: UserId) -> Result<Vec<Friendship>, PortError> {
        let mut conn = self.conn().await?;
        let rows: Vec<(uuid::Uuid, Timestamp)> = friendships::table
            .filter(friendships::user_id.eq(user.0))
            .select((friendships::friend_id, friendships::since))
            .load(&mut conn)
            .await
            .map_err(from_diesel)?;
        Ok(rows.into_iter().map(|(friend, since)| Friendship { friend: UserId(friend), since }).collect())
    }

    async fn are_friends(&self, a: UserId, b: UserId) -> Result<bool, PortError> {
        let mut conn = self.conn().await?;
        let count: i64 =
            friendships::table.find((a.0, b.0)).count().get_result(&mut conn).await.map_err(from_diesel)?;
        Ok(count > 0)
    }

    async fn unfriend(&self, a: UserId, b: UserId) -> Result<bool, PortError> {
        let mut conn = self.conn().await?;
        Ok(unfriend_in(&mut conn, a, b).await.map_err(from_diesel)? > 0)
    }

    async fn block(&self, blocker: UserId, blocked: UserId, now: Timestamp) -> Result<(), PortError> {
        let mut conn = self.conn().await?;
        let result = conn
            .transaction::<_, TxStop<()>, _>(async |conn| {
                diesel::insert_into(blocks::table)
                    .values((
                        blocks::blocker_id.eq(blocker.0),
                        blocks::blocked_id.eq(blocked.0),
                        blocks::blocked_at.eq(now),
                    ))
                    .on_conflict_do_nothing()
                    .execute(conn)
                    .await?;
                unfriend_in(conn, blocker, blocked).await?;
                let pending: Vec<uuid::Uuid> =
                    pending_between(blocker, blocked).select(friend_requests::id).load(conn).await?;
                diesel::update(friend_requests::table.filter(friend_requests::id.eq_any(pending)))
                    .set((friend_requests::status.eq("cancelled"), friend_requests::answered_at.eq(Some(now))))
                    .execute(conn)
                    .await?;
                Ok(())
            })
            .await;
        settle(result)?.map_err(|()| PortError::Internal("block rolled back".into()))
    }

    async fn unblock(&self, blocker: UserId, blocked: UserId) -> Result<bool, PortError> {
        let mut conn = self.conn().await?;
        let removed =
            diesel::delete(blocks::table.find((blocker.0, blocked.0))).execute(&mut conn).await.map_err(from_diesel)?;
        Ok(removed > 0)
    }

    async fn blocks(&self, user: UserId) -> Result<Vec<Block>, PortError> {
        let mut conn = self.conn().await?;
        let rows: Vec<(uuid::Uuid, Timestamp)> = blocks::table
            .filter(blocks::blocker_id.eq(user.0))
            .order((blocks::blocked_at.desc(), blocks::blocked_id.asc()))
            .select((blocks::blocked_id, blocks::blocked_at))
            .load(&mut conn)
            .await
            .map_err(from_diesel)?;
        Ok(rows.into_iter().map(|(user_id, blocked_at)| Block { user_id: UserId(user_id), blocked_at }).collect())
    }

    async fn blocked_between(&self, a: UserId, b: UserId) -> Result<bool, PortError> {
        let mut conn = self.conn().await?;
        let count: i64 = blocks::table
            .filter(
                (blocks::blocker_id.eq(a.0).and(blocks::blocked_id.eq(b.0)))
                    .or(blocks::blocker_id.eq(b.0).and(blocks::blocked_id.eq(a.0))),
            )
            .count()
            .get_result(&mut conn)
            .await
            .map_err(from_diesel)?;
        Ok(count > 0)
    }

    async fn hidden_from(&self, user: UserId) -> Result<HashSet<UserId>, PortError> {
        let mut conn = self.conn().await?;
        let mine: Vec<uuid::Uuid> = blocks::table
            .filter(blocks::blocker_id.eq(user.0))
            .select(blocks::blocked_id)
            .load(&mut conn)
            .await
            .map_err(from_diesel)?;
        let theirs: Vec<uuid::Uuid> = blocks::table
            .filter(blocks::blocked_id.eq(user.0))
            .select(blocks::blocker_id)
            .load(&mut conn)
            .await
            .map_err(from_diesel)?;
        Ok(mine.into_iter().chain(theirs).map(UserId).collect())
    }
}
