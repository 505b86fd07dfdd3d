#pragma once
// `sqsim eval`'s finished items as journal fields (journal.h) and back: one
// line per item under the key "TASK POSITION" (its position in the task's
// item list), the doubles exact, so a resumed run scores from them the same
// bits an uninterrupted run holds. MPI ranks send their items in this form.
#include <string>
#include <vector>

#include "sim/eval/zero_shot.h"

namespace sqsim::cli {

std::string eval_item_key(const std::string& task, size_t position);
std::vector<std::string> eval_item_fields(const ItemResult& r);
// Throws sqsim::Error naming `where` on a truncated or non-numeric field.
ItemResult eval_item_from_fields(const std::vector<std::string>& fields, const std::string& where);

}  // namespace sqsim::cli
