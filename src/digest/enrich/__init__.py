"""What the model adds to a paper: the model seam, the task runner and its tasks, full text, topics."""
