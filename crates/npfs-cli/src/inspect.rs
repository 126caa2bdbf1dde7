//! `npfs list` and `npfs info`: what the broker knows about pipes.

use npfs::broker::{BrokerConn, BrokerError, InstanceState};
use npfs::consts::{PIPE_SERVER_END, PIPE_TYPE_MESSAGE, PIPE_UNLIMITED_INSTANCES};
use npfs_core::config::{Direction, PipeType};
use npfs_core::name::PipeName;
use npfs_core::namespace::{InstanceInfo, PipeDetail};
use serde::Serialize;

use crate::{exit, out};

/// One pipe as `npfs list --json` and `npfs info --json` print it.
#[derive(Debug, Serialize)]
pub struct PipeJson {
    /// Full name (`\\.\pipe\NAME`).
    pub name: String,
    /// `"byte"` or `"message"`.
    #[serde(rename = "type")]
    pub pipe_type: &'static str,
    /// `"duplex"`, `"inbound"` (client to server) or `"outbound"` (server to client).
    pub direction: &'static str,
    /// Instances that exist now.
    pub instances: u32,
    /// nMaxInstances; `null` when unlimited.
    pub max_instances: Option<u32>,
    /// Instances in LISTENING.
    pub listening: u32,
    /// Instances in CONNECTED.
    pub connected: u32,
    /// Instances in DISCONNECTED.
    pub disconnected: u32,
    /// uid of the process that created the pipe.
    pub owner_uid: u32,
    /// Its user name, when `/etc/passwd` has one.
    pub owner: Option<String>,
    /// `false` for PIPE_REJECT_REMOTE_CLIENTS.
    pub remote_clients: bool,
    /// nInBufferSize (client to server quota).
    pub in_buffer_size: u32,
    /// nOutBufferSize (server to client quota).
    pub out_buffer_size: u32,
    /// nDefaultTimeOut in ms.
    pub default_timeout_ms: u32,
    /// The instances, in creation order (`npfs info` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_states: Option<Vec<InstanceJson>>,
}

/// One instance in [`PipeJson::instance_states`].
#[derive(Debug, Serialize)]
pub struct InstanceJson {
    /// Instance id (as numbered by the current broker).
    pub id: u64,
    /// `"LISTENING"`, `"CONNECTED"` or `"DISCONNECTED"`.
    pub state: &'static str,
    /// The server's process id.
    pub server_pid: u32,
    /// The connected client's process id, if any.
    pub client_pid: Option<u32>,
}

fn type_name(t: PipeType) -> &'static str {
    match t {
        PipeType::Byte => "byte",
        PipeType::Message => "message",
    }
}

fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::Duplex => "duplex",
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
    }
}

fn state_name(s: InstanceState) -> &'static str {
    match s {
        InstanceState::Listening => "LISTENING",
        InstanceState::Connected => "CONNECTED",
        InstanceState::Disconnected => "DISCONNECTED",
    }
}

/// The user name of `uid` from `/etc/passwd`.
fn user_name(uid: u32) -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        let name = f.next()?;
        let id: u32 = f.nth(1)?.parse().ok()?;
        (id == uid).then(|| name.to_owned())
    })
}

fn to_json(d: &PipeDetail, with_instances: bool) -> PipeJson {
    let s = &d.summary;
    let a = &s.attrs;
    PipeJson {
        name: s.display_name.clone(),
        pipe_type: type_name(a.pipe_type),
        direction: direction_name(a.direction),
        instances: s.instances,
        max_instances: (a.max_instances < PIPE_UNLIMITED_INSTANCES).then_some(a.max_instances),
        listening: s.listening,
        connected: s.connected,
        disconnected: s.instances.saturating_sub(s.listening + s.connected),
        owner_uid: s.owner_uid,
        owner: user_name(s.owner_uid),
        remote_clients: !d.reject_remote,
        in_buffer_size: a.in_quota,
        out_buffer_size: a.out_quota,
        default_timeout_ms: a.default_timeout_ms,
        instance_states: with_instances.then(|| d.instances.iter().map(instance_json).collect()),
    }
}

fn instance_json(i: &InstanceInfo) -> InstanceJson {
    InstanceJson {
        id: i.id,
        state: state_name(i.state),
        server_pid: i.server.pid,
        client_pid: i.client.map(|c| c.pid),
    }
}

fn broker_failure(e: BrokerError, name: &str) -> i32 {
    match e {
        BrokerError::Win32(w) => exit::report(w, name),
        BrokerError::Io(io) => exit::fail(format_args!(
            "{}: the broker (npfsd) cannot be reached: {io}",
            npfs::Win32Error::NO_SYSTEM_RESOURCES.label()
        )),
    }
}

fn connect_broker() -> Result<BrokerConn, i32> {
    BrokerConn::connect().map_err(|e| broker_failure(e, "the pipe namespace"))
}

/// Lay out rows in columns separated by two spaces (the last column is not padded).
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == r.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `npfs list [--json]`: returns the exit status.
pub fn list(json: bool) -> i32 {
    let mut b = match connect_broker() {
        Ok(b) => b,
        Err(code) => return code,
    };
    let pipes = match b.describe_all() {
        Ok(p) => p,
        Err(e) => return broker_failure(e, "the pipe namespace"),
    };
    let items: Vec<PipeJson> = pipes.iter().map(|d| to_json(d, false)).collect();
    if json {
        return match serde_json::to_string_pretty(&items) {
            Ok(s) => out::print(s + "\n"),
            Err(e) => exit::fail(e),
        };
    }
    if items.is_empty() {
        return out::print("no pipes\n");
    }
    let mut rows = vec![[
        "NAME",
        "INSTANCES",
        "TYPE",
        "DIRECTION",
        "LISTENING",
        "CONNECTED",
        "OWNER",
        "REMOTE",
    ]
    .map(String::from)
    .to_vec()];
    for p in &items {
        rows.push(vec![
            p.name.clone(),
            format!(
                "{}/{}",
                p.instances,
                p.max_instances
                    .map_or("unlimited".to_string(), |m| m.to_string())
            ),
            p.pipe_type.to_string(),
            p.direction.to_string(),
            p.listening.to_string(),
            p.connected.to_string(),
            p.owner.clone().unwrap_or_else(|| p.owner_uid.to_string()),
            if p.remote_clients {
                "accepted"
            } else {
                "rejected"
            }
            .to_string(),
        ]);
    }
    out::print(table(&rows))
}

/// `npfs info NAME [--json]`: returns the exit status.
pub fn info(name: &str, json: bool) -> i32 {
    let parsed = match PipeName::parse(name) {
        Ok(n) => n,
        Err(e) => return exit::report(e, name),
    };
    let mut b = match connect_broker() {
        Ok(b) => b,
        Err(code) => return code,
    };
    let d = match b.describe(&parsed) {
        Ok(d) => d,
        Err(e) => return broker_failure(e, name),
    };
    let p = to_json(&d, true);
    if json {
        return match serde_json::to_string_pretty(&p) {
            Ok(s) => out::print(s + "\n"),
            Err(e) => exit::fail(e),
        };
    }
    let a = &d.summary.attrs;
    let mut flags = PIPE_SERVER_END;
    let mut flag_names = vec!["PIPE_SERVER_END"];
    if a.pipe_type == PipeType::Message {
        flags |= PIPE_TYPE_MESSAGE;
        flag_names.push("PIPE_TYPE_MESSAGE");
    }
    let max = p
        .max_instances
        .map_or(format!("{PIPE_UNLIMITED_INSTANCES} (unlimited)"), |m| {
            m.to_string()
        });
    let owner = match &p.owner {
        Some(u) => format!("{u} (uid {})", p.owner_uid),
        None => format!("uid {}", p.owner_uid),
    };
    let mut text = format!("{}\n", p.name);
    let rows = vec![
        vec!["  type".into(), format!("{} pipe", p.pipe_type)],
        vec![
            "  direction".into(),
            format!(
                "{} ({})",
                p.direction,
                match a.direction {
                    Direction::Duplex => "PIPE_ACCESS_DUPLEX",
                    Direction::Inbound => "PIPE_ACCESS_INBOUND: client to server",
                    Direction::Outbound => "PIPE_ACCESS_OUTBOUND: server to client",
                }
            ),
        ],
        vec![
            "  default time-out".into(),
            format!("{} ms", p.default_timeout_ms),
        ],
        vec![
            "  remote clients".into(),
            if p.remote_clients {
                "accepted (PIPE_ACCEPT_REMOTE_CLIENTS)"
            } else {
                "rejected (PIPE_REJECT_REMOTE_CLIENTS)"
            }
            .into(),
        ],
        vec!["  owner".into(), owner],
    ];
    text.push_str(&table(&rows));
    text.push_str("GetNamedPipeInfo (server end):\n");
    let rows = vec![
        vec![
            "  lpFlags".into(),
            format!("{flags:#x} ({})", flag_names.join(" | ")),
        ],
        vec!["  lpOutBufferSize".into(), p.out_buffer_size.to_string()],
        vec!["  lpInBufferSize".into(), p.in_buffer_size.to_string()],
        vec!["  lpMaxInstances".into(), max],
    ];
    text.push_str(&table(&rows));
    text.push_str(&format!(
        "instances: {} ({} listening, {} connected, {} disconnected)\n",
        p.instances, p.listening, p.connected, p.disconnected
    ));
    let mut rows = vec![["  ID", "STATE", "SERVER PID", "CLIENT PID"]
        .map(String::from)
        .to_vec()];
    for i in p.instance_states.iter().flatten() {
        rows.push(vec![
            format!("  {}", i.id),
            i.state.to_string(),
            i.server_pid.to_string(),
            i.client_pid.map_or("-".to_string(), |c| c.to_string()),
        ]);
    }
    text.push_str(&table(&rows));
    if (d.instances.len() as u32) < d.summary.instances {
        text.push_str(&format!(
            "  ... and {} more\n",
            d.summary.instances - d.instances.len() as u32
        ));
    }
    out::print(text)
}
