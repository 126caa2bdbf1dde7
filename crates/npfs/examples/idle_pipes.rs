//! Hold N idle connected pipes and print the broker's memory (a quick check of the broker's
//! cost per pipe; the benchmark suite measures it properly).
fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let name = format!(r"\\.\pipe\idle-{}", std::process::id());
    let mut held = Vec::new();
    for _ in 0..n {
        let s = npfs::ServerOptions::new().create(&name).unwrap();
        let c = npfs::PipeClient::open_duplex(&name).unwrap();
        held.push((s, c));
    }
    let dir = std::env::var("NPFS_RUNTIME_DIR").unwrap();
    let pid = std::fs::read_to_string(format!("{dir}/npfsd.pid")).unwrap();
    let st = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap();
    let rss = st
        .lines()
        .find(|l| l.starts_with("VmRSS"))
        .unwrap()
        .to_string();
    println!("{n} connected pipes: broker {rss}");
}
