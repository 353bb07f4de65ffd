"""`hallway import slack`: a Slack workspace export becomes a Hallway company.

export.py reads and checks the zip; mrkdwn.py and emoji_names.py turn Slack's text and
reaction names into Hallway's; people.py, conversations.py and messages.py write the rows,
keyed in `import_keys` so that a second run writes nothing twice; run.py puts it together.
docs/import.md says what is imported and what is not.
"""
