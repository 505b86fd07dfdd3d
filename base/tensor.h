#pragma once
// Dense float matrices as the whole project uses them: row-major, so that a
// row of X is one token and a row of W is one output channel (nn.Linear layout).
#include <Eigen/Core>
#include <string>

namespace sqsim {

using MatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using VectorF = Eigen::VectorXf;

// Throws sqsim::Error naming `what`, the row and the column of the first NaN or
// Inf; `column_name` is how a column is called in the message ("channel").
void require_finite(const MatrixF& m, const std::string& what,
                    const std::string& column_name = "channel");
void require_finite(const VectorF& v, const std::string& what);
// The same check for one row (n values at `row`, row index r), as the
// quantizers use it inside their per-row loops so the row is still in cache.
void require_finite_row(const float* row, long n, long r, const std::string& what,
                        const std::string& column_name = "channel");

// Whether a function that reads a matrix first checks it for NaN/Inf.
// kAlreadyChecked: the caller ran require_finite on this very matrix (the
// sweep checks each smoothed operand once, then observes and quantizes it
// several times; each check was a pass over the matrix).
enum class FiniteCheck { kCheck, kAlreadyChecked };

// Throws unless the matrix has at least one row and one column.
void require_nonempty(const MatrixF& m, const std::string& what);

}  // namespace sqsim
