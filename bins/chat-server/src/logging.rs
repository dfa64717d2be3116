//! Log output: plain text for people, coloured only when it goes to a terminal (colour codes
//! in a file or a pipe are noise to whoever reads it next), or one JSON object per line for
//! a log collector. `RUST_LOG` filters both; the default is `info`.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event; ANSI colours only when stderr is a terminal.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `message`, `target`, the event's
    /// fields and its spans.
    Json,
}

/// Installs the global subscriber, writing to stderr (where a failed start's error goes
/// too, so one stream tells the whole story). Call once, before anything logs.
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        // Flattened, so `message` and the fields sit at the top level where collectors look.
        LogFormat::Json => builder.json().flatten_event(true).with_ansi(false).init(),
    }
}
