//! `recce7 geoip update`: the command line over [`geoloc::update`], which does the work.

use anyhow::Result;

use crate::cli::GeoipCommand;

/// Runs a `recce7 geoip` command; says what it installed, or fails with why (the old file
/// stays).
pub fn run(command: GeoipCommand) -> Result<()> {
    crate::logging::init("info");
    match command {
        GeoipCommand::Update {
            dir,
            url,
            max_mib,
            if_older_than_days,
        } => {
            let age = geoloc::update::installed_age(&dir);
            if let (Some(days), Some(age)) = (if_older_than_days, age)
                && age.as_secs() < days.saturating_mul(86_400)
            {
                crate::terminal::write_stdout(&format!(
                    "{} is {} days old (newer than {days}): not downloaded\n",
                    dir.join(geoloc::update::FILE_NAME).display(),
                    age.as_secs() / 86_400
                ));
                return Ok(());
            }
            let mut options = geoloc::update::UpdateOptions {
                dir,
                url,
                ..geoloc::update::UpdateOptions::default()
            };
            options.limits.max_unpacked_bytes = max_mib << 20;
            let installed = geoloc::update::update(&options)?;
            // A closed standard output (`| head`) is no failure: the file is installed.
            crate::terminal::write_stdout(&format!(
                "installed {} ({}, {} bytes) from {}\n{}\n",
                installed.path.display(),
                installed.database_type,
                installed.bytes,
                installed.url,
                geoloc::update::ATTRIBUTION
            ));
            Ok(())
        }
    }
}
