"""The consent record: pupils from the MIS, and per academic year whether images and videos of each may be posted
on the school's social media accounts (the policy's "Data protection principles")."""
