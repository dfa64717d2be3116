//! `chatctl`: operator commands against the production database.

mod admin;
mod jobs;
mod media;
mod seed;
mod seed_load;
mod seed_search;
mod wiring;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(version, about = "Operator commands for the chat backend")]
struct Cli {
    /// Postgres connection URL.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    #[command(flatten)]
    media: wiring::MediaPlace,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending schema migrations.
    Migrate,
    /// Register a user and give them the admin role.
    CreateAdmin {
        #[arg(long)]
        username: String,
        #[arg(long)]
        display_name: String,
        /// The password; read from standard input when absent.
        #[arg(long, env = "CHAT_ADMIN_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Create demo users, conversations and messages (for trying the product and benchmarks).
    SeedDemo {
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(2..=10_000))]
        users: u32,
        #[arg(long, default_value_t = 3000, value_parser = clap::value_parser!(u32).range(0..=10_000_000))]
        messages: u32,
    },
    /// Create load-test users with sessions, groups and direct conversations, and write their
    /// access tokens to a JSON file for `chat-loadgen`.
    SeedLoad {
        #[arg(long, value_parser = clap::value_parser!(u32).range(2..=1_000_000))]
        users: u32,
        /// Members per group (the last group may be smaller).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(2..=500))]
        group_size: u32,
        /// The servers' JWT secret, so the tokens written are ones they accept.
        #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
        jwt_secret: String,
        /// How long the written access tokens stay valid.
        #[arg(long, default_value_t = 180, value_parser = clap::value_parser!(i64).range(1..=1440))]
        token_ttl_minutes: i64,
        /// Where to write the users and tokens.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Messages of Vietnamese chat for the message search benchmark: users, conversations, a
    /// benchmark user and senders for `chat-loadgen search` (docs/performance.md).
    SeedSearch(Box<seed_search::SeedSearchArgs>),
    /// Media housekeeping.
    #[command(subcommand)]
    Media(MediaCommand),
    /// The job queues (on Redis): media processing, or push with `--queue push`.
    Jobs {
        #[command(flatten)]
        place: jobs::QueuePlace,
        #[command(subcommand)]
        command: JobsCommand,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// How many jobs wait, run, wait for a retry, and are dead.
    Stats,
    /// The dead letters: jobs that failed every attempt (their media are marked failed).
    Dead {
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Put a dead job back in the queue.
    Retry { id: String },
}

#[derive(Subcommand)]
enum MediaCommand {
    /// Abort uploads whose window closed, delete media never attached to a message for 7
    /// days (records and objects) and stray upload objects, as the servers do periodically.
    Cleanup {
        /// List what would be deleted, delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Migrate => admin::migrate(&cli.database_url).await,
        Command::CreateAdmin { username, display_name, password } => {
            admin::create_admin(&cli.database_url, &username, &display_name, password, &cli.media).await
        }
        Command::SeedDemo { users, messages } => seed::seed_demo(&cli.database_url, users, messages, &cli.media).await,
        Command::SeedLoad { users, group_size, jwt_secret, token_ttl_minutes, out } => {
            let args = seed_load::SeedLoad {
                database_url: &cli.database_url,
                jwt_secret: &jwt_secret,
                users: users as usize,
                group_size: group_size as usize,
                token_ttl_minutes,
                out: &out,
                media: &cli.media,
            };
            seed_load::seed_load(args).await
        }
        Command::SeedSearch(args) => seed_search::seed_search(&cli.database_url, &cli.media, *args).await,
        Command::Media(MediaCommand::Cleanup { dry_run }) => {
            media::cleanup(&cli.database_url, &cli.media, dry_run).await
        }
        Command::Jobs { place, command } => match command {
            JobsCommand::Stats => jobs::stats(&place).await,
            JobsCommand::Dead { limit } => jobs::dead(&place, limit).await,
            JobsCommand::Retry { id } => jobs::retry(&place, &cli.database_url, &cli.media, &id).await,
        },
    }
}
