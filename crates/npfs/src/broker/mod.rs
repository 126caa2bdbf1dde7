//! Talking to the broker (npfsd).
