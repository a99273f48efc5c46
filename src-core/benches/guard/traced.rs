//! What tracing costs per call: `everything__echo` through three `gatehouse
//! serve` processes, interleaved call by call so all see the same machine:
//! traces off (`[traces] local_files = false`, no OTLP), span files on (the
//! default), and span files plus OTLP/HTTP export to a local receiver (a
//! minimal HTTP server in this process that answers every POST with 200).
//! Reported: the client's round trip and Gatehouse's own `latency_us`, and
//! the difference of each to traces off.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use tokio::process::Command;

use crate::e2e::{call, connect_pid, echo_args, recorded, runtime, until_ready};
use crate::stats::{Samples, Summary, header, row, us_signed};
use crate::{BIG_BUDGETS, Sizes};

const WARMUP: usize = 200;

/// A local OTLP/HTTP endpoint that accepts everything; counts requests and bytes.
struct Receiver {
    port: u16,
    requests: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
}

fn receiver() -> Result<Receiver> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let (requests, bytes) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (r, b) = (requests.clone(), bytes.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let (r, b) = (r.clone(), b.clone());
            std::thread::spawn(move || {
                let mut out = conn.try_clone().ok();
                let mut input = BufReader::new(conn);
                // One request after another on a kept-alive connection.
                loop {
                    let mut len = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if input.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let l = line.trim_end();
                        if l.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = l.split_once(':')
                            && k.eq_ignore_ascii_case("content-length")
                        {
                            len = v.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0u8; len];
                    if input.read_exact(&mut body).is_err() {
                        return;
                    }
                    r.fetch_add(1, Ordering::Relaxed);
                    b.fetch_add(len as u64, Ordering::Relaxed);
                    let reply = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if out.as_mut().is_none_or(|o| o.write_all(reply).is_err()) {
                        return;
                    }
                }
            });
        }
    });
    Ok(Receiver {
        port,
        requests,
        bytes,
    })
}

/// One path: a home, its agent's token, and extra environment for `serve`.
struct Path {
    name: &'static str,
    home: tempfile::TempDir,
    token: String,
    env: Vec<(String, String)>,
}

fn path(name: &'static str, extra_config: &str, env: Vec<(String, String)>) -> Result<Path> {
    let config = format!(
        "{BIG_BUDGETS}{extra_config}{}",
        crate::everything_upstream()?
    );
    let home = crate::home_with(&config)?;
    let token = crate::add_agent(home.path(), "bench")?;
    Ok(Path {
        name,
        home,
        token,
        env,
    })
}

pub fn run(sizes: Sizes) -> Result<()> {
    let recv = receiver()?;
    let endpoint = format!("http://127.0.0.1:{}", recv.port);
    let paths = [
        path(
            "traces off",
            "\n[traces]\nlocal_files = false\n",
            Vec::new(),
        )?,
        path("span files", "", Vec::new())?,
        path(
            "span files + OTLP",
            "",
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint)],
        )?,
    ];
    let args = echo_args();
    let rt = runtime()?;
    let rounds = rt.block_on(async {
        let mut clients = Vec::new();
        for p in &paths {
            let mut cmd = Command::from(crate::gatehouse_cmd(p.home.path()));
            cmd.arg("serve").env("GATEHOUSE_TOKEN", &p.token);
            for (k, v) in &p.env {
                cmd.env(k, v);
            }
            let (client, _) = connect_pid(cmd)
                .await
                .with_context(|| format!("starting gatehouse serve ({})", p.name))?;
            until_ready(&client, "everything__echo", &args).await?;
            clients.push(client);
        }
        for _ in 0..WARMUP {
            for c in &clients {
                call(c, "everything__echo", &args)
                    .await
                    .map_err(anyhow::Error::msg)?;
            }
        }
        let mut rounds: Vec<Samples> = clients.iter().map(|_| Samples::default()).collect();
        for _ in 0..sizes.e2e_calls {
            for (c, s) in clients.iter().zip(rounds.iter_mut()) {
                s.push(
                    call(c, "everything__echo", &args)
                        .await
                        .map_err(anyhow::Error::msg)?,
                );
            }
        }
        // Let the last batches reach the files and the receiver before serve stops.
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        for c in clients {
            c.cancel().await?;
        }
        Ok::<_, anyhow::Error>(rounds)
    })?;
    let inside: Vec<Summary> = paths
        .iter()
        .map(|p| recorded(p.home.path(), "everything__echo", sizes.e2e_calls).map(|s| s.summary()))
        .collect::<Result<_>>()?;
    let outside: Vec<Summary> = rounds.iter().map(Samples::summary).collect();
    header(&format!(
        "Tracing: {} sequential tools/call of everything__echo per path, interleaved",
        sizes.e2e_calls
    ));
    for (p, s) in paths.iter().zip(&outside) {
        row(&format!("{}: client round trip", p.name), s);
    }
    for (p, s) in paths.iter().zip(&inside) {
        row(
            &format!("{}: inside gatehouse (history latency_us)", p.name),
            s,
        );
    }
    println!();
    for i in 1..paths.len() {
        let d = |a: &Summary, b: &Summary| {
            format!(
                "p50 {} µs, p90 {} µs, p99 {} µs",
                us_signed(a.p50 as i64 - b.p50 as i64),
                us_signed(a.p90 as i64 - b.p90 as i64),
                us_signed(a.p99 as i64 - b.p99 as i64)
            )
        };
        println!(
            "added by {} vs traces off: round trip {}; inside gatehouse {}",
            paths[i].name,
            d(&outside[i], &outside[0]),
            d(&inside[i], &inside[0])
        );
        println!();
    }
    // The spans really went out: files written and requests received.
    let files: u64 = paths
        .iter()
        .map(|p| {
            std::fs::read_dir(p.home.path().join("traces"))
                .map(|d| {
                    d.flatten()
                        .filter_map(|e| e.metadata().ok())
                        .map(|m| m.len())
                        .sum()
                })
                .unwrap_or(0)
        })
        .sum();
    println!(
        "span files: {files} bytes written; OTLP receiver: {} requests, {} bytes",
        recv.requests.load(Ordering::Relaxed),
        recv.bytes.load(Ordering::Relaxed)
    );
    Ok(())
}
