//! `export`: what billmail issued and received, as files for the books.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use super::{Ctx, Outcome, flag_date};
use crate::domain::Money;
use crate::export::{Format, export};
use crate::store::Scope;

pub(super) async fn run(
    format: &str,
    from: Option<&str>,
    to: Option<&str>,
    since_last: bool,
    out: &Path,
    c: &Ctx<'_>,
) -> Result<Outcome> {
    let Ctx { config, store, now, .. } = *c;
    let fmt = Format::parse(format).ok_or_else(|| anyhow!("no export format {format:?}"))?;
    let map = config.export.as_ref().ok_or_else(|| {
        anyhow!("the config has no [export] section: it maps billmail's lines to your books' items and accounts (README, \"Into your books\")")
    })?;
    let scope = match (from, to, since_last) {
        (Some(f), Some(t), false) => {
            let (f, t) = (flag_date("--from", f)?, flag_date("--to", t)?);
            if f > t {
                bail!("--from {f} is after --to {t}");
            }
            Scope::Range(f, t)
        }
        (None, None, true) => Scope::SinceLast,
        (_, _, true) => bail!("--since-last takes no --from or --to"),
        _ => bail!("give --from DATE and --to DATE, or --since-last"),
    };
    let (batch, written) = store.export_batch(fmt.as_str(), scope).await?;
    if batch.is_empty() {
        match scope {
            Scope::SinceLast => println!("{format}: nothing new since the last export"),
            Scope::Range(f, t) => println!("{format}: nothing from {f} to {t}"),
        }
        return Ok(Outcome { code: 0 });
    }
    let files = export(fmt, &batch, map).map_err(|e| anyhow!("nothing exported: {e}"))?;

    // written beside their final names first, recorded, then put in place:
    // a failure before the record leaves no file behind and nothing marked
    std::fs::create_dir_all(out).with_context(|| format!("cannot make {}", out.display()))?;
    let local = now.with_timezone(&config.company.timezone);
    let stamp = local.format("%Y%m%d-%H%M%S");
    let mut placed: Vec<(PathBuf, PathBuf)> = Vec::new();
    for f in &files {
        let path = out.join(format!("{format}-{stamp}-{}", f.name));
        if path.exists() {
            bail!("{} exists already; nothing exported", path.display());
        }
        let temp = out.join(format!(".{format}-{stamp}-{}.part", f.name));
        if let Err(e) = std::fs::write(&temp, &f.text) {
            for (t, _) in &placed {
                let _ = std::fs::remove_file(t);
            }
            let _ = std::fs::remove_file(&temp);
            bail!("cannot write {}: {e}; nothing exported", temp.display());
        }
        placed.push((temp, path));
    }
    if let Err(e) = store.record_exported(fmt.as_str(), &written, now).await {
        for (t, _) in &placed {
            let _ = std::fs::remove_file(t);
        }
        return Err(e.context("nothing exported"));
    }
    for (temp, path) in &placed {
        std::fs::rename(temp, path).with_context(|| format!("cannot move {} to {}", temp.display(), path.display()))?;
    }

    let invoiced: Money = batch.invoices.iter().map(|i| i.total).sum();
    let received: Money = batch.payments.iter().map(|p| p.amount).sum();
    let cur = &config.company.currency;
    println!(
        "{format}: {} invoices ({}), {} voids, {} payments ({}), {} new customers",
        batch.invoices.len(),
        invoiced.display_in(cur),
        batch.voids.len(),
        batch.payments.len(),
        received.display_in(cur),
        written.len("customer"),
    );
    for (_, path) in &placed {
        println!("  {}", path.display());
    }
    Ok(Outcome { code: 0 })
}
