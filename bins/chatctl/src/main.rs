//! `chatctl`: operator commands against the production database.

mod admin;
mod seed;
mod wiring;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(version, about = "Operator commands for the chat backend")]
struct Cli {
    /// Postgres connection URL.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Migrate => admin::migrate(&cli.database_url).await,
        Command::CreateAdmin { username, display_name, password } => {
            admin::create_admin(&cli.database_url, &username, &display_name, password).await
        }
        Command::SeedDemo { users, messages } => seed::seed_demo(&cli.database_url, users, messages).await,
    }
}
