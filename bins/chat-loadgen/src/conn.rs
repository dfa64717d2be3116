//! One simulated client: connect (from a chosen source address), authenticate, heartbeat,
//! send on schedule, and account for every ack and delivery.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use rand::{Rng, SeedableRng};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::header::{AUTHORIZATION, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::plan::{Plan, Scenario};
use crate::protocol::{Inbound, Protocol};
use crate::stats::SeqTally;
// Senders stamp the wall clock into the body; receivers, on the same machine, subtract it.
use crate::worker::{Phase, Shared, unix_micros};
use crate::world::LoadUser;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_ATTEMPTS: u32 = 3;

/// Runs one client until the worker says the run is over (or the server drops it).
/// `handshake` is the worker's permit to connect, given back once connected.
pub async fn client(
    plan: Arc<Plan>,
    shared: Arc<Shared>,
    user: LoadUser,
    source: Option<IpAddr>,
    handshake: OwnedSemaphorePermit,
    phase: watch::Receiver<Phase>,
) {
    let started = Instant::now();
    let mut attempt = 0;
    let (socket, heartbeat_every) = loop {
        attempt += 1;
        match connect(&plan, &user, source).await {
            Ok(connected) => break connected,
            Err(error) if attempt >= CONNECT_ATTEMPTS => {
                shared.connect_failed.fetch_add(1, Relaxed);
                shared.note_connect_error(&format!("{error:#}"));
                return;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await,
        }
    };
    drop(handshake);
    shared.record_connect(started.elapsed());
    Client::new(plan, shared, user, heartbeat_every).run(socket, phase).await;
}

async fn connect(plan: &Plan, user: &LoadUser, source: Option<IpAddr>) -> anyhow::Result<(Socket, Option<Duration>)> {
    let tcp = TcpSocket::new_v4()?;
    if let Some(ip) = source {
        tcp.bind(SocketAddr::new(ip, 0)).with_context(|| format!("binding {ip}"))?;
    }
    let stream = timeout(HANDSHAKE_TIMEOUT, tcp.connect(plan.server)).await.context("tcp connect timed out")??;
    stream.set_nodelay(true)?;
    let mut request = format!("ws://{}{}", plan.server, plan.protocol.path()).into_client_request()?;
    if plan.protocol == Protocol::Chat {
        request.headers_mut().insert(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {}", user.credential))?);
    }
    // Small buffers: the generator holds tens of thousands of sockets too.
    let config = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let (mut socket, _) = timeout(
        HANDSHAKE_TIMEOUT,
        tokio_tungstenite::client_async_with_config(request, MaybeTlsStream::Plain(stream), Some(config)),
    )
    .await
    .context("websocket handshake timed out")??;
    let conversations: Vec<&str> = user.conversations().collect();
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    loop {
        let frame = timeout(deadline - Instant::now(), socket.next()).await.context("no ready frame")?;
        let text = match frame {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(close))) => bail!("closed during handshake: {close:?}"),
            Some(Ok(_)) => continue,
            Some(Err(error)) => return Err(error.into()),
            None => bail!("connection ended during handshake"),
        };
        match plan.protocol.decode(&text) {
            Inbound::Open => {
                if let Some(frame) = plan.protocol.connect_frame(&user.credential, &conversations) {
                    socket.send(Message::text(frame)).await?;
                }
            }
            Inbound::Ready { heartbeat_interval_ms } => {
                return Ok((socket, heartbeat_interval_ms.map(Duration::from_millis)));
            }
            Inbound::Refused { code, .. } => bail!("refused: {code}"),
            _ => {}
        }
    }
}

struct Client {
    plan: Arc<Plan>,
    shared: Arc<Shared>,
    user: LoadUser,
    heartbeat_every: Option<Duration>,
    next_id: u64,
    /// Sends awaiting their ack, oldest first (the server answers a socket in order).
    pending: VecDeque<(u64, Instant, usize)>,
    /// Per conversation (0 direct, 1 group): seqs seen, by ack or delivery.
    seen: [Vec<u64>; 2],
    own_acks: [u64; 2],
    delivered: [u64; 2],
    padding: String,
}

impl Client {
    fn new(plan: Arc<Plan>, shared: Arc<Shared>, user: LoadUser, heartbeat_every: Option<Duration>) -> Self {
        let padding = "x".repeat(plan.body_bytes.saturating_sub(17));
        Client {
            plan,
            shared,
            user,
            heartbeat_every,
            next_id: 1,
            pending: VecDeque::new(),
            seen: [Vec::new(), Vec::new()],
            own_acks: [0; 2],
            delivered: [0; 2],
            padding,
        }
    }

    async fn run(mut self, socket: Socket, mut phase: watch::Receiver<Phase>) {
        let (mut sink, mut stream) = socket.split();
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        // A Send generator: the client's future may move between threads.
        let mut rng = rand::rngs::StdRng::from_rng(&mut rand::rng());
        // Spread the heartbeats over the interval so they do not arrive in waves.
        let mut next_heartbeat = match self.heartbeat_every {
            Some(every) => Instant::now() + every.mul_f64(rng.random_range(0.0..1.0)),
            None => far,
        };
        let mut schedule = Schedule::Waiting;
        let mut next_send = far;
        let mut current = *phase.borrow_and_update();
        loop {
            match current {
                Phase::End => break,
                Phase::Go(start) if matches!(schedule, Schedule::Waiting) => {
                    schedule = Schedule::start(self.plan.scenario, start, &mut rng);
                    next_send = schedule.next(far);
                }
                _ => {}
            }
            tokio::select! {
                biased;
                changed = phase.changed() => {
                    if changed.is_err() { break; }
                    current = *phase.borrow_and_update();
                }
                inbound = stream.next() => {
                    let text = match inbound {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Close(close))) => {
                            let code = close.map_or_else(|| "close".to_owned(), |c| format!("close {}", u16::from(c.code)));
                            self.shared.note_drop(code);
                            self.finish();
                            return;
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(_)) | None => {
                            self.shared.note_drop("reset".to_owned());
                            self.finish();
                            return;
                        }
                    };
                    if let Some(reply) = self.on_text(&text) && sink.send(Message::text(reply)).await.is_err() {
                        self.shared.note_drop("write failed".to_owned());
                        self.finish();
                        return;
                    }
                }
                () = sleep_until(next_heartbeat) => {
                    next_heartbeat += self.heartbeat_every.unwrap_or(Duration::from_secs(86_400));
                    if let Some(frame) = self.plan.protocol.heartbeat_frame() {
                        self.shared.heartbeats.fetch_add(1, Relaxed);
                        if sink.send(Message::Text(Utf8Bytes::from_static(frame))).await.is_err() {
                            self.shared.note_drop("write failed".to_owned());
                            self.finish();
                            return;
                        }
                    }
                }
                () = sleep_until(next_send) => {
                    let frame = self.next_message(&mut rng);
                    next_send = schedule.next(far);
                    if let Some(frame) = frame && sink.send(Message::text(frame)).await.is_err() {
                        self.shared.note_drop("write failed".to_owned());
                        self.finish();
                        return;
                    }
                }
            }
        }
        self.finish();
        let _ = sink.send(Message::Close(None)).await;
    }

    fn next_message(&mut self, rng: &mut impl Rng) -> Option<String> {
        let share = match self.plan.scenario {
            Scenario::Chat { group_share, .. } | Scenario::Burst { group_share, .. } => group_share,
            Scenario::Idle { .. } => return None,
        };
        let want_group = rng.random_bool(share.clamp(0.0, 1.0));
        let (slot, conversation) = match (&self.user.direct, &self.user.group, want_group) {
            (_, Some(group), true) | (None, Some(group), false) => (1, group),
            (Some(direct), _, _) => (0, direct),
            (None, None, _) => return None,
        };
        let id = self.next_id;
        self.next_id += 1;
        let text = match self.plan.bodies.len() {
            0 => &self.padding,
            count => &self.plan.bodies[rng.random_range(0..count)],
        };
        let body = format!("{:016} {text}", unix_micros());
        let client_msg_id = uuid::Uuid::now_v7().to_string();
        let frame = self.plan.protocol.send_frame(id, conversation, &client_msg_id, &body);
        self.pending.push_back((id, Instant::now(), slot));
        self.shared.sent.fetch_add(1, Relaxed);
        self.shared.in_flight.fetch_add(1, Relaxed);
        Some(frame)
    }

    /// Accounts for a frame; returns a reply to send, if the protocol wants one.
    fn on_text(&mut self, text: &str) -> Option<String> {
        match self.plan.protocol.decode(text) {
            Inbound::Ping => return Some(self.plan.protocol.pong_frame().to_owned()),
            Inbound::Ack { id, seq } => {
                if let Some((slot, sent_at)) = self.take_pending(id) {
                    self.shared.record_ack(sent_at.elapsed());
                    self.seen[slot].push(seq);
                    self.own_acks[slot] += 1;
                }
            }
            Inbound::Refused { id: Some(id), code } if self.take_pending(id).is_some() => {
                self.shared.note_refusal(&code);
            }
            Inbound::Delivered { conversation_id, seq, body } => {
                let slot = if self.user.direct.as_deref() == Some(conversation_id.as_ref()) { 0 } else { 1 };
                let stamped = body.split(' ').next().and_then(|t| t.parse::<u64>().ok());
                if let Some(stamped) = stamped {
                    self.shared.record_delivery(Duration::from_micros(unix_micros().saturating_sub(stamped)));
                }
                self.seen[slot].push(seq);
                self.delivered[slot] += 1;
            }
            _ => {}
        }
        None
    }

    fn take_pending(&mut self, id: u64) -> Option<(usize, Instant)> {
        let index = self.pending.iter().position(|(pending, ..)| *pending == id)?;
        let (_, sent_at, slot) = self.pending.remove(index)?;
        self.shared.in_flight.fetch_sub(1, Relaxed);
        Some((slot, sent_at))
    }

    /// Hands this client's counts to the worker.
    fn finish(&mut self) {
        let unanswered = self.pending.len() as u64;
        self.shared.unanswered.fetch_add(unanswered, Relaxed);
        self.shared.in_flight.fetch_sub(unanswered, Relaxed);
        self.pending.clear();
        let conversations = [self.user.direct.clone(), self.user.group.clone()];
        for (slot, conversation) in conversations.into_iter().enumerate() {
            let Some(conversation) = conversation else { continue };
            let seen = &mut self.seen[slot];
            let total = seen.len() as u64;
            seen.sort_unstable();
            seen.dedup();
            let distinct = seen.len() as u64;
            self.shared.delivered.fetch_add(self.delivered[slot], Relaxed);
            self.shared.duplicates.fetch_add(total - distinct, Relaxed);
            let tally = SeqTally { acked: self.own_acks[slot], members: 1, seen: distinct };
            self.shared.add_tally(conversation, tally);
        }
        self.seen = [Vec::new(), Vec::new()];
        self.own_acks = [0; 2];
        self.delivered = [0; 2];
    }
}

/// When this client sends next.
enum Schedule {
    Waiting,
    /// Evenly spaced sends until `until`.
    Steady {
        next: Instant,
        every: Duration,
        until: Instant,
    },
    /// `left` sends back to back from `at`.
    Burst {
        at: Instant,
        left: u32,
    },
    Done,
}

impl Schedule {
    fn start(scenario: Scenario, start: Instant, rng: &mut impl Rng) -> Schedule {
        match scenario {
            Scenario::Idle { .. } => Schedule::Done,
            Scenario::Chat { rate, duration_secs, .. } if rate > 0.0 => {
                let every = Duration::from_secs_f64(1.0 / rate);
                let next = start + every.mul_f64(rng.random_range(0.0..1.0));
                Schedule::Steady { next, every, until: start + Duration::from_secs(duration_secs) }
            }
            Scenario::Chat { .. } => Schedule::Done,
            Scenario::Burst { messages, spread_ms, .. } => {
                let at = start + Duration::from_millis(rng.random_range(0..=spread_ms));
                Schedule::Burst { at, left: messages }
            }
        }
    }

    /// The moment of the next send (consuming it), or `far` when there is none.
    fn next(&mut self, far: Instant) -> Instant {
        match self {
            Schedule::Steady { next, every, until } => {
                let at = *next;
                if at >= *until {
                    *self = Schedule::Done;
                    return far;
                }
                *next += *every;
                at
            }
            Schedule::Burst { at, left } => {
                if *left == 0 {
                    *self = Schedule::Done;
                    return far;
                }
                *left -= 1;
                *at
            }
            Schedule::Waiting | Schedule::Done => far,
        }
    }
}
