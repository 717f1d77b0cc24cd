#!/bin/sh
# rnn_load's reader program under valgrind memcheck, for make test-valgrind (RNN_READER names this
# script; RNN_VALGRIND_READER the real reader). exec keeps the process id, so the reader's check
# that its parent is the process that started it still holds. Errors exit 99: the load fails,
# and so does the test.
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
    "${RNN_VALGRIND_READER:?}" "$@"
