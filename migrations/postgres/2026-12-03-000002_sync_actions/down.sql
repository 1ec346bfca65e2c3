DROP TABLE sync_actions;
