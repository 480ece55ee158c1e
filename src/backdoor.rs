//! `backdoor_server`: a line console of named commands for inspecting a running process.
//! (Being built.)
