//! `pangea-udp-flood`: sends UDP datagrams to one address, for testing the XDP firewall.
//!
//! Sends `--count` datagrams (or for `--duration` seconds) of `--size` bytes to `--to`, from
//! `--bind` if given, paced to `--rate` per second if given (by sleeping until each datagram's
//! slot, so a late start catches up rather than drifting), and prints `sent N` at the end.
//! Usage errors go to stderr with exit status 2; a failed send exits with status 1.

use std::net::{SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Largest UDP payload over IPv4 or IPv6 without jumbograms.
const SIZE_MAX: usize = 65_507;
/// Highest pacing rate accepted, in datagrams per second.
const RATE_MAX: u64 = 10_000_000;
/// Longest run accepted, in seconds.
const DURATION_SECONDS_MAX: u64 = 86_400;
/// Default datagram size in bytes.
const SIZE_DEFAULT: usize = 64;
/// Linux's errno for "no buffer space" (a full local queue), retried rather than fatal. On
/// other systems the number means something else or nothing, so nothing is retried there.
const ENOBUFS: Option<i32> = if cfg!(target_os = "linux") { Some(105) } else { None };
/// Pause before retrying a datagram the local queue had no room for.
const RETRY_PAUSE: Duration = Duration::from_micros(50);

const USAGE: &str = "\
usage: pangea-udp-flood --to ADDR:PORT (--count N | --duration SECS) [options]

Sends UDP datagrams to ADDR:PORT and prints `sent N` when done.

  --to ADDR:PORT     destination (IPv4 or [IPv6]:port)
  --count N          send N datagrams
  --duration SECS    send for SECS seconds instead (whole seconds)
  --bind ADDR        source address (or ADDR:PORT); default: any
  --size BYTES       payload bytes per datagram, 0 to 65507 (default 64)
  --rate PPS         pace to PPS datagrams per second (0 or absent: as fast as possible)
  --help             this text
";

/// The parsed command line.
struct Options {
    /// Destination.
    to: SocketAddr,
    /// Source address, if fixed.
    bind: Option<SocketAddr>,
    /// When to stop.
    stop: Stop,
    /// Payload bytes per datagram.
    size: usize,
    /// Datagrams per second, 0 for unpaced.
    rate: u64,
}

/// When sending stops.
enum Stop {
    /// After this many datagrams.
    Count(u64),
    /// After this long.
    Duration(Duration),
}

fn main() -> ExitCode {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    if arguments.iter().any(|argument| argument == "--help" || argument == "-h") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match parse(&arguments) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("pangea-udp-flood: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match send(&options) {
        Ok(sent) => {
            println!("sent {sent}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("pangea-udp-flood: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Parses the arguments after the program name.
fn parse(arguments: &[String]) -> Result<Options, String> {
    let mut to = None;
    let mut bind = None;
    let mut count = None;
    let mut duration = None;
    let mut size = SIZE_DEFAULT;
    let mut rate = 0;
    let mut rest = arguments.iter();
    while let Some(flag) = rest.next() {
        let mut value = || rest.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--to" => to = Some(parse_address(value()?, None)?),
            "--bind" => bind = Some(parse_address(value()?, Some(0))?),
            "--count" => count = Some(parse_number(flag, value()?, u64::MAX)?),
            "--duration" => duration = Some(parse_number(flag, value()?, DURATION_SECONDS_MAX)?),
            "--size" => size = parse_size(flag, value()?)?,
            "--rate" => rate = parse_number(flag, value()?, RATE_MAX)?,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let to = to.ok_or("--to ADDR:PORT is required")?;
    let stop = match (count, duration) {
        (Some(count), None) => Stop::Count(count),
        (None, Some(seconds)) => Stop::Duration(Duration::from_secs(seconds)),
        (None, None) => return Err("one of --count or --duration is required".to_owned()),
        (Some(_), Some(_)) => return Err("--count and --duration exclude each other".to_owned()),
    };
    if let Some(bind) = bind
        && bind.is_ipv4() != to.is_ipv4()
    {
        return Err(format!("--bind {bind} and --to {to} are different address families"));
    }
    Ok(Options { to, bind, stop, size, rate })
}

/// Parses `ADDR:PORT`, or a bare `ADDR` when `default_port` is given.
fn parse_address(text: &str, default_port: Option<u16>) -> Result<SocketAddr, String> {
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    match (default_port, text.parse::<std::net::IpAddr>()) {
        (Some(port), Ok(ip)) => Ok(SocketAddr::new(ip, port)),
        _ => Err(format!("{text:?} is not an address (ADDR:PORT, or [IPv6]:PORT)")),
    }
}

/// Parses a decimal number no greater than `maximum`.
fn parse_number(flag: &str, text: &str, maximum: u64) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(number) if number <= maximum => Ok(number),
        Ok(_) => Err(format!("{flag} {text} is above the maximum {maximum}")),
        Err(_) => Err(format!("{flag} {text:?} is not a whole number")),
    }
}

/// Parses a payload size of at most [`SIZE_MAX`] bytes.
fn parse_size(flag: &str, text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(size) if size <= SIZE_MAX => Ok(size),
        Ok(_) => Err(format!("{flag} {text} is above the maximum {SIZE_MAX}")),
        Err(_) => Err(format!("{flag} {text:?} is not a whole number")),
    }
}

/// Sends the datagrams; returns how many were sent.
fn send(options: &Options) -> Result<u64, String> {
    let bind = options.bind.unwrap_or_else(|| {
        let any: std::net::IpAddr = if options.to.is_ipv4() {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        };
        SocketAddr::new(any, 0)
    });
    let socket = UdpSocket::bind(bind).map_err(|error| format!("binding {bind}: {error}"))?;
    // Not connected: a connected socket would report an earlier datagram's ICMP "port
    // unreachable" as a failure of the next send, and drop that datagram.
    let payload = vec![0x5a_u8; options.size];
    let start = Instant::now();
    let mut sent: u64 = 0;
    loop {
        let done = match options.stop {
            Stop::Count(count) => sent >= count,
            Stop::Duration(duration) => start.elapsed() >= duration,
        };
        if done {
            return Ok(sent);
        }
        if options.rate > 0 {
            // The slot of datagram `sent` is sent / rate seconds after the start.
            let slot_nanos = u128::from(sent) * 1_000_000_000 / u128::from(options.rate);
            let slot = start + Duration::from_nanos(u64::try_from(slot_nanos).unwrap_or(u64::MAX));
            let now = Instant::now();
            if slot > now {
                std::thread::sleep(slot - now);
            }
        }
        match socket.send_to(&payload, options.to) {
            Ok(_) => sent += 1,
            // The local queue is full (unpaced): wait a moment and retry this datagram.
            Err(error) if ENOBUFS.is_some() && error.raw_os_error() == ENOBUFS => {
                std::thread::sleep(RETRY_PAUSE);
            }
            Err(error) => return Err(format!("sending to {} after {sent}: {error}", options.to)),
        }
    }
}
