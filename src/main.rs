use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // the daemon says what it does; one-shot commands only warn
    billmail::logging::init(std::env::args().any(|a| a == "run"));
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
