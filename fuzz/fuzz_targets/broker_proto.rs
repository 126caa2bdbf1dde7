//! The broker protocol's decoders never panic, never claim more bytes than given, and what
//! they accept encodes back to a frame that decodes to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use npfs_proto::broker::{decode_frame, Frame, Reply, Request};

fuzz_target!(|data: &[u8]| {
    // A stream of frames, as the broker reads them.
    let mut rest = data;
    while let Ok(Some((frame, used))) = decode_frame(rest) {
        assert!(used <= rest.len());
        if let Ok(req) = Request::decode(frame) {
            let bytes = req.encode().expect("a decoded request encodes");
            let (f, n) = decode_frame(&bytes).unwrap().unwrap();
            assert_eq!(n, bytes.len());
            assert_eq!(Request::decode(f).unwrap(), req);
        }
        if let Ok(rep) = Reply::decode(frame) {
            let bytes = rep.encode().expect("a decoded reply encodes");
            let (f, _) = decode_frame(&bytes).unwrap().unwrap();
            assert_eq!(Reply::decode(f).unwrap(), rep);
        }
        rest = &rest[used..];
    }
    // The body parsers directly, behind any opcode.
    if let Some((&opcode, body)) = data.split_first() {
        let f = Frame { opcode, body };
        let _ = Request::decode(f);
        let _ = Reply::decode(f);
    }
});
