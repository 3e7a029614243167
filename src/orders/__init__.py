"""Orders service: the one package every Lambda function of the SAM template ships."""
