# pyman's bash completion: save it as ~/.local/share/bash-completion/completions/pyman
#   pyman completion bash > ~/.local/share/bash-completion/completions/pyman
# (or /usr/share/bash-completion/completions/pyman for everyone; needs the bash-completion package)
_pyman_completion() {
    local IFS=$'\n'
    COMPREPLY=( $( env COMP_WORDS="${COMP_WORDS[*]}" \
                   COMP_CWORD=$COMP_CWORD \
                   _PYMAN_COMP_LINE="${COMP_LINE:0:COMP_POINT}" \
                   _PYMAN_COMPLETE=complete_bash $1 ) )
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *: ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}

complete -o default -F _pyman_completion pyman
