"""pytest plugin: fixtures that run the local emulator of the Expo Push service."""
