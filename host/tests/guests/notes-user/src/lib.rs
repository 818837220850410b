//! Keeps notes with the host through host resources: the application's objects, of which the
//! plugin holds only handles.

componentry_sdk::wit_bindgen::generate!({
    path: "../wit",
    world: "notes-user",
    runtime_path: "componentry_sdk::wit_bindgen::rt",
});

use componentry::test::notes::{Note, whoami};

struct NotesUser;

impl Guest for NotesUser {
    fn take_notes(text: String, count: u32) -> String {
        // Every handle stays open until the end: `count` resources at once.
        let notes: Vec<Note> = (0..count).map(|_| Note::new(&text)).collect();
        let last = notes.last().map(Note::read).unwrap_or_default();
        format!("{last}; I am {}", whoami())
    }
}

export!(NotesUser);
