//! The smallest use: run a command, read its output, get its exit status.
//!
//! `cargo run --example hello`

fn main() -> std::io::Result<()> {
    futures_lite::future::block_on(async {
        let out = childfd::Command::new("sh")
            .args(["-c", "echo hello from $$; exit 3"])
            .output()
            .await?;
        print!("{}", String::from_utf8_lossy(&out.stdout));
        println!("exit status: {}", out.status);
        Ok(())
    })
}
