"""The long-context track: token-exact haystacks, their export, and the result paths of one experiment."""
