//! Calls the application's `vault` interface, which only some plugins are granted.

componentry_sdk::wit_bindgen::generate!({
    path: "../wit",
    world: "vault-user",
    runtime_path: "componentry_sdk::wit_bindgen::rt",
});

struct VaultUser;

impl Guest for VaultUser {
    fn peek() -> String {
        format!("the secret is {}", componentry::test::vault::secret())
    }
}

export!(VaultUser);
