//! I/O completion ports: the packet queue (the `HandleObject` side is in [`crate::sync`]).

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::signal;
use crate::types::*;

/// One completion packet.
#[derive(Clone, Copy)]
pub struct Packet {
    /// The completion key.
    pub key: usize,
    /// The OVERLAPPED pointer.
    pub overlapped: usize,
    /// Bytes transferred.
    pub bytes: DWORD,
    /// The NTSTATUS of the operation.
    pub status: u32,
}

/// An I/O completion port.
pub struct Port {
    queue: Mutex<VecDeque<Packet>>,
}

impl Default for Port {
    fn default() -> Self {
        Port::new()
    }
}

impl Port {
    /// An empty port.
    pub fn new() -> Port {
        Port {
            queue: Mutex::new(VecDeque::new()),
        }
    }

    /// Queue a packet and wake a waiter.
    pub fn post(&self, p: Packet) {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(p);
        signal::notify();
    }

    /// Take the oldest packet.
    pub fn pop(&self) -> Option<Packet> {
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
    }
}
