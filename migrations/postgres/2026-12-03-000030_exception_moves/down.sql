ALTER TABLE waiting_list DROP COLUMN priority;
DROP TABLE exception_moves;
