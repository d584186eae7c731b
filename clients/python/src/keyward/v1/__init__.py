"""Generated from proto/ by scripts/generate-clients. Do not edit."""
