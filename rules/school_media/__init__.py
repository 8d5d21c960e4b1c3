"""School social media: the site creation approval form, the school's accounts and who may post on them, posts
awaiting approval, and the headteacher's log of inappropriate comments and abuse."""
