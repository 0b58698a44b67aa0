use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("BILLMAIL_LOG").unwrap_or_else(|_| {
            // the daemon says what it does; one-shot commands only warn
            let run = std::env::args().any(|a| a == "run");
            tracing_subscriber::EnvFilter::new(if run { "info" } else { "warn" })
        }))
        .init();
    let cli = billmail::cli::Cli::parse();
    match billmail::cli::run(cli).await {
        Ok(outcome) => std::process::exit(outcome.code),
        Err(e) => {
            // one clear line; the chain is joined with ": "
            eprintln!("billmail: {e:#}");
            std::process::exit(1);
        }
    }
}
